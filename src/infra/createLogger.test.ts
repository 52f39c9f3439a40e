import { describe, expect, it } from "vitest";
import { chooseLogFormat } from "./createLogger.js";

describe("chooseLogFormat", () => {
  it("auto: pretty only in development on a terminal", () => {
    expect(chooseLogFormat("auto", "development", true)).toBe("pretty");
    expect(chooseLogFormat("auto", "development", false)).toBe("json");
    expect(chooseLogFormat("auto", "production", true)).toBe("json");
    expect(chooseLogFormat("auto", "test", true)).toBe("json");
  });

  it("json and pretty force either, wherever the output goes", () => {
    for (const env of ["development", "test", "production"] as const) {
      for (const tty of [true, false]) {
        expect(chooseLogFormat("json", env, tty)).toBe("json");
        expect(chooseLogFormat("pretty", env, tty)).toBe("pretty");
      }
    }
  });
});

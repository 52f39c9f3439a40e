// pg_lsn parsing for the replica lag measurement.
import { describe, expect, it } from "vitest";
import { parseLsn } from "./readRouter.js";

describe("parseLsn", () => {
  it("reads both halves as hex and orders positions", () => {
    expect(parseLsn("0/0")).toBe(0n);
    expect(parseLsn("16/B374D848")).toBe((0x16n << 32n) | 0xb374d848n);
    expect(parseLsn("1/0") > parseLsn("0/FFFFFFFF")).toBe(true);
    expect(() => parseLsn("nonsense")).toThrow(RangeError);
  });
});

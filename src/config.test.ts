// Configuration: the documented defaults are the ones the code uses, and bad values fail with a clear message.
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, readConfig } from "./config.js";

const base = { SEQUENCER_ENV: "test" };

describe("readConfig", () => {
  const literal = CONFIG_VARIABLES.filter((v) => !v.default.startsWith("(") && !v.default.includes("<"));

  it.each(literal.map((v) => [v.name, v.default]))("documents the real default of %s (%s)", (name, value) => {
    expect(readConfig({ [name]: value })).toEqual(readConfig({}));
  });

  it("names the variable, the value and what was expected", () => {
    expect(() => readConfig({ ...base, PORT: "http" })).toThrow(
      new ConfigError('PORT expected an integer in 0..65535, got "http"'),
    );
    expect(() => readConfig({ ...base, SEQUENCER_ID: "x" })).toThrow(/SEQUENCER_ID expected a UUID, got "x"/);
    expect(() => readConfig({ ...base, SEQUENCER_SIGNING_KEY: "abc" })).toThrow(
      /SEQUENCER_SIGNING_KEY expected 64 hex characters or base64 of 32 bytes, got 3 characters/,
    );
  });

  it("refuses production without a pinned identity, and counts unknown environments as production", () => {
    expect(() => readConfig({ SEQUENCER_ENV: "staging" })).toThrow(/counts as production/);
    const seed = "11".repeat(32);
    const config = readConfig({
      SEQUENCER_ENV: "production",
      SEQUENCER_ID: "00000000-0000-4000-8000-000000000001",
      SEQUENCER_SIGNING_KEY: `0x${seed}`,
      DATABASE_URL: "postgres://db/ves",
    });
    expect(config.env).toBe("production");
    expect(Buffer.from(config.signingSeed ?? []).toString("hex")).toBe(seed);
  });
});

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
    expect(() => readConfig({ ...base, LOG_FORMAT: "text" })).toThrow(
      'LOG_FORMAT expected auto, json or pretty, got "text"',
    );
    expect(readConfig({ ...base, LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
  });

  it("reads DATABASE_READ_URLS as a list of postgres URLs that needs DATABASE_URL", () => {
    const primary = { ...base, DATABASE_URL: "postgres://p:5432/db" };
    expect(
      readConfig({ ...primary, DATABASE_READ_URLS: " postgres://r1:5432/db, postgresql://r2:5433/db ," })
        .databaseReadUrls,
    ).toEqual(["postgres://r1:5432/db", "postgresql://r2:5433/db"]);
    expect(readConfig(primary).databaseReadUrls).toEqual([]);
    expect(() => readConfig({ ...primary, DATABASE_READ_URLS: "postgres://r1/db,mysql://r2/db" })).toThrow(
      new ConfigError(
        "DATABASE_READ_URLS entry 2 expected a postgres:// or postgresql:// URL (one host each, comma-separated)",
      ),
    );
    expect(() => readConfig({ ...base, DATABASE_READ_URLS: "postgres://r1/db" })).toThrow(
      /DATABASE_READ_URLS needs DATABASE_URL/,
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

  it("refuses production without DATABASE_URL (the embedded PostgreSQL is for development and tests)", () => {
    const pinned = {
      SEQUENCER_ENV: "production",
      SEQUENCER_ID: "00000000-0000-4000-8000-000000000001",
      SEQUENCER_SIGNING_KEY: "11".repeat(32),
    };
    expect(() => readConfig(pinned)).toThrow(
      new ConfigError(
        "DATABASE_URL is required: SEQUENCER_ENV=production counts as production, and the embedded PostgreSQL is for development and tests only",
      ),
    );
    expect(readConfig({ SEQUENCER_ENV: "development" }).databaseUrl).toBeUndefined();
    expect(() => readConfig({ ...base, DB_QUEUE_MAX: "-1" })).toThrow(
      'DB_QUEUE_MAX expected an integer in 0..1000000, got "-1"',
    );
  });

  describe("authentication settings", () => {
    const production = {
      SEQUENCER_ENV: "production",
      SEQUENCER_ID: "00000000-0000-4000-8000-000000000001",
      SEQUENCER_SIGNING_KEY: "11".repeat(32),
      DATABASE_URL: "postgres://db/ves",
    };

    it("requires authentication by default, and allows it off only in development and test", () => {
      expect(readConfig({}).auth.mode).toBe("required");
      expect(readConfig({ ...base, AUTH_MODE: "disabled" }).auth.mode).toBe("disabled");
      expect(() => readConfig({ ...production, AUTH_MODE: "disabled" })).toThrow(
        /AUTH_MODE=disabled is refused because SEQUENCER_ENV=production counts as production/,
      );
      expect(() => readConfig({ ...production, SEQUENCER_ENV: "prod", AUTH_MODE: "disabled" })).toThrow(
        /SEQUENCER_ENV=prod counts as production/,
      );
      expect(() => readConfig({ ...base, AUTH_MODE: "off" })).toThrow(
        'AUTH_MODE expected required or disabled, got "off"',
      );
    });

    it("refuses secrets shorter than 32 bytes in production", () => {
      expect(() => readConfig({ ...production, JWT_SECRET: "x".repeat(31) })).toThrow(
        "JWT_SECRET expected at least 32 bytes in production, got 31",
      );
      expect(() => readConfig({ ...production, BOOTSTRAP_ADMIN_API_KEY: "k".repeat(31) })).toThrow(
        "BOOTSTRAP_ADMIN_API_KEY expected at least 32 characters in production, got 31",
      );
      const ok = readConfig({
        ...production,
        JWT_SECRET: "x".repeat(32),
        BOOTSTRAP_ADMIN_API_KEY: "k".repeat(32),
      });
      expect(ok.auth.jwtSecret?.length).toBe(32);
      expect(readConfig({ ...base, JWT_SECRET: "short" }).auth.jwtSecret?.length).toBe(5);
      expect(() => readConfig({ ...base, BOOTSTRAP_ADMIN_API_KEY: "has space" })).toThrow(/no whitespace/);
    });

    it("reads METRICS_API_KEY: 32 characters in production, no whitespace, not the bootstrap admin key", () => {
      expect(readConfig(base).auth.metricsApiKey).toBeUndefined();
      expect(readConfig({ ...production, METRICS_API_KEY: "m".repeat(32) }).auth.metricsApiKey).toBe(
        "m".repeat(32),
      );
      expect(() => readConfig({ ...production, METRICS_API_KEY: "m".repeat(31) })).toThrow(
        "METRICS_API_KEY expected at least 32 characters in production, got 31",
      );
      expect(() => readConfig({ ...base, METRICS_API_KEY: "has space" })).toThrow(/no whitespace/);
      expect(() =>
        readConfig({ ...base, METRICS_API_KEY: "same-key", BOOTSTRAP_ADMIN_API_KEY: "same-key" }),
      ).toThrow(/a credential of its own/);
    });

    it("bounds the cache lifetime", () => {
      expect(readConfig({ ...base, AUTH_CACHE_TTL_MS: "0" }).auth.cacheTtlMs).toBe(0);
      expect(() => readConfig({ ...base, AUTH_CACHE_TTL_MS: "600000" })).toThrow(
        /AUTH_CACHE_TTL_MS expected/,
      );
    });
  });

  describe("anchoring", () => {
    const key = `0x${"ab".repeat(32)}`;
    const anchored = {
      ...base,
      ANCHOR_RPC_URL: "https://user:secret@rpc.example/v2/apikey",
      ANCHOR_CHAIN_ID: "8453",
      ANCHOR_CONTRACT_ADDRESS: `0x${"AA".repeat(20)}`,
      ANCHOR_SUBMITTER_KEY: key,
    };

    it("is off unless configured, and needs all four variables together", () => {
      expect(readConfig(base).anchor).toBeUndefined();
      expect(() => readConfig({ ...base, ANCHOR_CHAIN_ID: "1" })).toThrow(
        "ANCHOR_CHAIN_ID is set but ANCHOR_RPC_URL is not: set both",
      );
      expect(() => readConfig({ ...anchored, ANCHOR_CONTRACT_ADDRESS: "" })).toThrow(
        "ANCHOR_CONTRACT_ADDRESS is required when ANCHOR_RPC_URL is set",
      );
      const a = readConfig(anchored).anchor;
      expect(a).toMatchObject({ chainId: 8453, contractAddress: `0x${"aa".repeat(20)}`, confirmations: 6 });
      expect(a?.submitterKey?.()).toBe(key);
      expect(a?.maxGas).toBe(5_000_000n);
    });

    it("never shows the submitter key, even in an error or a printed config", () => {
      const a = readConfig(anchored);
      expect(JSON.stringify(a, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain("abab");
      let message = "";
      try {
        readConfig({ ...anchored, ANCHOR_SUBMITTER_KEY: `${key}ff` });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe("ANCHOR_SUBMITTER_KEY expected 0x and 64 hex characters, got 68 characters");
    });

    it("names bad values, and refuses the dev anvil in production or beside a real chain", () => {
      expect(() => readConfig({ ...anchored, ANCHOR_CONTRACT_ADDRESS: "0x12" })).toThrow(
        'ANCHOR_CONTRACT_ADDRESS expected 0x and 40 hex characters, got "0x12"',
      );
      expect(() => readConfig({ ...anchored, ANCHOR_CONFIRMATIONS: "0" })).toThrow(
        'ANCHOR_CONFIRMATIONS expected an integer in 1..10000, got "0"',
      );
      expect(() => readConfig({ ...anchored, ANCHOR_RPC_URL: "ws://x" })).toThrow(/http:\/\/ or https:\/\//);
      expect(readConfig(anchored).anchor?.maxFeePerGas).toBe(500n * 10n ** 9n);
      expect(readConfig({ ...anchored, ANCHOR_MAX_FEE_GWEI: "0.25" }).anchor?.maxFeePerGas).toBe(
        250_000_000n,
      );
      expect(readConfig({ ...anchored, ANCHOR_MAX_FEE_GWEI: "12.000000001" }).anchor?.maxFeePerGas).toBe(
        12_000_000_001n,
      );
      for (const bad of ["0", "-1", "1e3", "1.0000000001", "abc"]) {
        expect(() => readConfig({ ...anchored, ANCHOR_MAX_FEE_GWEI: bad })).toThrow(
          `ANCHOR_MAX_FEE_GWEI expected an amount of gwei above 0 and at most 1000000000 (up to 9 decimals), got ${JSON.stringify(bad)}`,
        );
      }
      expect(() => readConfig({ ...anchored, ANCHOR_DEV_ANVIL: "true" })).toThrow(/exclude each other/);
      expect(() =>
        readConfig({
          SEQUENCER_ENV: "production",
          SEQUENCER_ID: "00000000-0000-4000-8000-000000000001",
          SEQUENCER_SIGNING_KEY: "11".repeat(32),
          DATABASE_URL: "postgres://db/ves",
          ANCHOR_DEV_ANVIL: "true",
        }),
      ).toThrow(/ANCHOR_DEV_ANVIL is for development/);
      expect(readConfig({ ...base, ANCHOR_DEV_ANVIL: "true" }).anchor?.devAnvil).toBe(true);
    });
  });
});

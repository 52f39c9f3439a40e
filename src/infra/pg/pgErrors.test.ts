import { describe, expect, it } from "vitest";
import { DomainError } from "../../domain/errors.js";
import { mapPgError } from "./pgErrors.js";

const reasonOf = (err: unknown): string | undefined => {
  const mapped = mapPgError(err);
  return mapped instanceof DomainError ? mapped.reason : undefined;
};

describe("mapPgError", () => {
  it.each([
    ["57P01", "admin_shutdown (pg_terminate_backend, fast shutdown)"],
    ["57P02", "crash_shutdown"],
    ["57P03", "cannot_connect_now (starting up)"],
    ["08006", "connection_failure"],
    ["08003", "connection_does_not_exist"],
    ["53300", "too_many_connections"],
    ["25006", "read_only_sql_transaction (a standby after failover)"],
    ["ECONNRESET", "socket reset"],
    ["ECONNREFUSED", "nothing listening"],
    ["CONNECTION_CLOSED", "postgres.js: closed mid-query"],
    ["CONNECTION_ENDED", "postgres.js: pool ended"],
    ["CONNECTION_DESTROYED", "postgres.js: connection destroyed"],
    ["CONNECT_TIMEOUT", "postgres.js: no answer to connect"],
  ])("maps %s (%s) to unavailable", (code) => {
    expect(reasonOf(Object.assign(new Error("x"), { code }))).toBe("unavailable");
  });

  it("finds the code down the cause chain", () => {
    const inner = Object.assign(new Error("reset"), { code: "ECONNRESET" });
    expect(reasonOf(new Error("outer", { cause: inner }))).toBe("unavailable");
  });

  it("maps conflicts to aborted and leaves anything else unchanged (Internal)", () => {
    expect(reasonOf(Object.assign(new Error("x"), { code: "40001" }))).toBe("aborted");
    const other = Object.assign(new Error("x"), { code: "22P02" });
    expect(mapPgError(other)).toBe(other);
  });
});

// Start-up check that PostgreSQL answers: a few attempts with doubling delays, one clear line per retry, and a
// StartupError (one line, no stack) when it never does or refuses us for a reason retrying cannot fix.
import type { Sql } from "postgres";
import { StartupError } from "../startupError.js";
import { redactUrl } from "./createSql.js";

export interface WaitForDatabaseOptions {
  readonly attempts: number;
  /** Delay before the second attempt; it doubles after each failure. */
  readonly firstDelayMs?: number;
  readonly onRetry?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

// Worth retrying: the server is not there yet, starting up, or out of connection slots.
const TRANSIENT = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "57P03", // cannot_connect_now: starting up or shutting down
  "53300", // too_many_connections
]);

function codeOf(err: unknown): string {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return "unknown";
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

/** Resolves once `select 1` succeeds; throws StartupError after `attempts` failures or on a permanent one. */
export async function waitForDatabase(sql: Sql, url: string, options: WaitForDatabaseOptions): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const where = redactUrl(url);
  let delayMs = options.firstDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      const code = codeOf(err);
      if (!TRANSIENT.has(code)) {
        throw new StartupError(`PostgreSQL at ${where} refused the connection: ${firstLine(err)} (${code})`);
      }
      if (attempt >= options.attempts) {
        throw new StartupError(
          `cannot reach PostgreSQL at ${where} (${code}) after ${attempt} attempt${attempt === 1 ? "" : "s"}; is it running, and is DATABASE_URL right?`,
        );
      }
      const seconds = delayMs / 1000;
      options.onRetry?.(
        `cannot reach PostgreSQL at ${where} (${code}); retrying in ${seconds} s (${attempt + 1}/${options.attempts})`,
      );
      await sleep(delayMs);
      delayMs *= 2;
    }
  }
}

// postgres.js client: bigint for int8, TCP_NODELAY sockets, bounded pool and wait queue, session time limits,
// no notices in logs.

import { once } from "node:events";
import net from "node:net";
import postgres, { type Sql } from "postgres";
import { boundPool } from "./boundedPool.js";

export interface SqlOptions {
  readonly max: number;
  readonly applicationName?: string;
  readonly onnotice?: (notice: postgres.Notice) => void;
  /**
   * Session limits in ms (0: none), as startup parameters of every connection: a runaway statement, a lock wait
   * and a transaction left open by a stuck client end instead of holding a connection (and locks) forever.
   */
  readonly statementTimeoutMs?: number;
  readonly lockTimeoutMs?: number;
  readonly idleInTransactionTimeoutMs?: number;
  /** Bound on the work waiting for a connection (boundedPool.ts); unset: postgres.js queues without limit. */
  readonly queue?: { readonly max: number; readonly timeoutMs: number };
}

/** Strips credentials from a connection URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

export function createSql(url: string, options: SqlOptions): Sql {
  const u = new URL(url);
  const host = u.hostname === "" ? "127.0.0.1" : u.hostname;
  const port = u.port === "" ? 5432 : Number(u.port);
  const limits = {
    ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
    ...(options.lockTimeoutMs === undefined ? {} : { lock_timeout: options.lockTimeoutMs }),
    ...(options.idleInTransactionTimeoutMs === undefined
      ? {}
      : { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs }),
  };
  const sql = postgres(url, {
    max: options.max,
    types: { bigint: postgres.BigInt },
    connection: { application_name: options.applicationName ?? "ves-sequencer", ...limits },
    onnotice: options.onnotice ?? (() => {}),
    // postgres.js leaves Nagle on; small pipelined messages would then wait for delayed ACKs.
    socket: host.startsWith("/")
      ? undefined
      : async () => {
          const s = net.connect({ host, port, noDelay: true });
          await once(s, "connect");
          return s;
        },
  } as postgres.Options<{ bigint: postgres.PostgresType<bigint> }>) as unknown as Sql;
  return options.queue === undefined
    ? sql
    : boundPool(sql, {
        max: options.max,
        queueMax: options.queue.max,
        queueTimeoutMs: options.queue.timeoutMs,
      });
}

// postgres.js client: bigint for int8, TCP_NODELAY sockets, bounded pool, no notices in logs.

import net from "node:net";
import postgres, { type Sql } from "postgres";

export interface SqlOptions {
  readonly max: number;
  readonly applicationName?: string;
  readonly onnotice?: (notice: postgres.Notice) => void;
  /** Seconds a new connection may take to be ready; 5 by default. */
  readonly connectTimeoutSeconds?: number;
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
  return postgres(url, {
    max: options.max,
    types: { bigint: postgres.BigInt },
    connection: { application_name: options.applicationName ?? "ves-sequencer" },
    onnotice: options.onnotice ?? (() => {}),
    // postgres.js counts failed connection attempts across the whole pool and waits up to (0.5..1) x
    // min(3^n / 100, 20) s before the next one: a restart that fails a few dozen attempts left every query
    // waiting 10-20 s after the database was back. Retry within half a second instead (jittered).
    backoff: (attempt: number) => Math.min(0.5, 0.01 * 2 ** attempt) * (0.5 + Math.random() / 2),
    // A connection attempt that gets no answer fails (UNAVAILABLE) instead of holding its query for 30 s.
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    // postgres.js leaves Nagle on; small pipelined messages would then wait for delayed ACKs. The socket is
    // returned while it connects (writes queue until then): postgres.js attaches its "error" and "close"
    // handlers to it, so a refused connection closes the pool's connection slot and is retried. Awaiting the
    // connection here instead would lose a refused attempt: the slot would stay "connecting" forever and every
    // later query would wait for it.
    socket: host.startsWith("/") ? undefined : () => net.connect({ host, port, noDelay: true }),
  } as postgres.Options<{ bigint: postgres.PostgresType<bigint> }>) as unknown as Sql;
}

// postgres.js client: bigint for int8, TCP_NODELAY sockets, bounded pool and wait queue, session time limits,
// no notices in logs.

import net from "node:net";
import postgres, { type Sql } from "postgres";
import { boundPool } from "./boundedPool.js";

export interface SqlOptions {
  readonly max: number;
  readonly applicationName?: string;
  readonly onnotice?: (notice: postgres.Notice) => void;
  /** Seconds a new connection may take to be ready (postgres.js connect_timeout); 5 by default. */
  readonly connectTimeoutSeconds?: number;
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
  const hosts = url.slice(url.indexOf("://") + 3).split(/[/?]/)[0] ?? "";
  if (hosts.includes(",")) {
    // Several hosts: WHATWG URL cannot parse it; drop the user info instead.
    const at = hosts.lastIndexOf("@");
    return at < 0 ? url : url.replace(hosts, `***@${hosts.slice(at + 1)}`);
  }
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "<unparseable url>";
  }
}

/**
 * The hosts of a connection URL, in order: one, or several for failover
 * (`postgres://h1:5432,h2:5432/db?target_session_attrs=read-write`, which WHATWG URL cannot parse).
 */
export function urlHosts(url: string): { host: string; port: number }[] {
  const afterScheme = url.slice(url.indexOf("://") + 3);
  const authority = decodeURIComponent(afterScheme.split(/[/?]/)[0] ?? "");
  const hostList = authority.slice(authority.lastIndexOf("@") + 1);
  return hostList.split(",").map((h) => {
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(h);
    const host = m?.[1] === undefined || m[1] === "" ? "127.0.0.1" : m[1].replace(/^\[|\]$/g, "");
    return { host, port: m?.[2] === undefined ? 5432 : Number(m[2]) };
  });
}

export function createSql(url: string, options: SqlOptions): Sql {
  const hosts = urlHosts(url);
  const unixSocket = hosts.some((h) => h.host.startsWith("/"));
  let next = 0;
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
    // later query would wait for it. With several hosts, each attempt goes to the next host in turn, so a
    // refused one (a dead primary) is followed by the others; postgres.js's target_session_attrs check drops a
    // connection to the wrong kind of server and reconnects, which again moves on.
    socket: unixSocket
      ? undefined
      : () => {
          const target = hosts[next++ % hosts.length] as { host: string; port: number };
          return net.connect({ host: target.host, port: target.port, noDelay: true });
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

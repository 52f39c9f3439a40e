// postgres.js client: bigint for int8, TCP_NODELAY sockets, bounded pool, no notices in logs.

import { once } from "node:events";
import net from "node:net";
import postgres, { type Sql } from "postgres";

export interface SqlOptions {
  readonly max: number;
  readonly applicationName?: string;
  readonly onnotice?: (notice: postgres.Notice) => void;
  /** postgres.js connect_timeout (default 30 s). */
  readonly connectTimeoutSeconds?: number;
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
  // With several hosts each new connection tries the next one that accepts; postgres.js's target_session_attrs
  // check then drops a connection to the wrong kind of server (a standby, for "primary") and reconnects.
  let next = 0;
  return postgres(url, {
    max: options.max,
    types: { bigint: postgres.BigInt },
    connection: { application_name: options.applicationName ?? "ves-sequencer" },
    onnotice: options.onnotice ?? (() => {}),
    ...(options.connectTimeoutSeconds === undefined
      ? {}
      : { connect_timeout: options.connectTimeoutSeconds }),
    // postgres.js leaves Nagle on; small pipelined messages would then wait for delayed ACKs.
    socket: unixSocket
      ? undefined
      : async () => {
          // Each connection starts at the next host and moves on past those that refuse (a dead primary).
          const first = next++;
          let lastError: unknown;
          for (let k = 0; k < hosts.length; k++) {
            const target = hosts[(first + k) % hosts.length] as { host: string; port: number };
            const s = net.connect({ host: target.host, port: target.port, noDelay: true });
            try {
              await once(s, "connect");
              return s;
            } catch (err) {
              s.destroy();
              lastError = err;
            }
          }
          throw lastError;
        },
  } as postgres.Options<{ bigint: postgres.PostgresType<bigint> }>) as unknown as Sql;
}

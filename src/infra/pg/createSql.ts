// postgres.js client: bigint for int8, TCP_NODELAY sockets, bounded pool, no notices in logs.

import { once } from "node:events";
import net from "node:net";
import postgres, { type Sql } from "postgres";

export interface SqlOptions {
  readonly max: number;
  readonly applicationName?: string;
  readonly onnotice?: (notice: postgres.Notice) => void;
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
    // postgres.js leaves Nagle on; small pipelined messages would then wait for delayed ACKs.
    socket: host.startsWith("/")
      ? undefined
      : async () => {
          const s = net.connect({ host, port, noDelay: true });
          await once(s, "connect");
          return s;
        },
  } as postgres.Options<{ bigint: postgres.PostgresType<bigint> }>) as unknown as Sql;
}

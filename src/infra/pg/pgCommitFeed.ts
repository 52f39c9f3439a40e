// CommitFeed on PostgreSQL LISTEN/NOTIFY: one dedicated LISTEN connection per instance (postgres.js), and a
// watchdog that sends itself a ping through the channel and listens again when the ping does not come back
// (postgres.js gives up re-listening if the database is down when the connection drops).
import { randomUUID } from "node:crypto";
import type { Sql } from "postgres";
import type { CommitFeed } from "../../app/ports.js";
import { COMMIT_CHANNEL, parseCommitPayload } from "./commitChannel.js";

export interface PgCommitFeedOptions {
  /** How often the watchdog pings itself through the channel. */
  readonly pingIntervalMs: number;
  /** Called when notifications stopped arriving (once per outage) and when they are back. */
  readonly onHealth?: (healthy: boolean, err?: unknown) => void;
}

export function createPgCommitFeed(sql: Sql, opts: PgCommitFeedOptions): CommitFeed {
  return {
    async start(listener) {
      const pingPrefix = `ping:${randomUUID()}:`;
      let sent = 0;
      let seen = 0;
      let healthy = true;
      const onNotify = (payload: string): void => {
        if (payload.startsWith(pingPrefix)) {
          seen = Math.max(seen, Number(payload.slice(pingPrefix.length)));
          return;
        }
        const commit = parseCommitPayload(payload);
        if (commit !== undefined) listener.onHead(commit.stream, commit.head);
      };
      const setHealth = (ok: boolean, err?: unknown): void => {
        if (ok !== healthy) opts.onHealth?.(ok, err);
        healthy = ok;
      };
      const listen = async (): Promise<{ unlisten(): Promise<void> } | undefined> => {
        try {
          // onlisten runs after every (re)connect: notifications sent meanwhile are lost, so re-read heads.
          return await sql.listen(COMMIT_CHANNEL, onNotify, () => listener.onGap());
        } catch (err) {
          setHealth(false, err);
          return undefined;
        }
      };
      let handle = await listen();
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        void (async () => {
          if (sent > 0 && seen < sent) {
            setHealth(false);
            await handle?.unlisten().catch(() => {});
            handle = await listen();
            listener.onGap();
          } else if (sent > 0) {
            setHealth(true);
          }
          sent++;
          await sql`select pg_notify(${COMMIT_CHANNEL}, ${pingPrefix + sent})`.catch(() => {});
        })().finally(() => {
          busy = false;
        });
      }, opts.pingIntervalMs);
      timer.unref();

      return {
        async stop() {
          clearInterval(timer);
          await handle?.unlisten().catch(() => {});
        },
      };
    },
  };
}

// Leader election with a PostgreSQL session advisory lock held on a dedicated connection: the lock lives exactly
// as long as that session, so a dead leader's lock is freed when its connection drops, and a stand-by that
// polls takes over within its poll interval. Each check also confirms this session still holds it (a silent
// reconnect would have lost it).
import postgres from "postgres";

export interface PgLeaderLock {
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/** Two 32-bit keys: the classid "VESA" and the purpose. */
const CLASS_ID = 0x56455341;

export function createPgLeaderLock(url: string, purpose = 1): PgLeaderLock {
  // One connection, never shared: the lock is a property of this session.
  const sql = postgres(url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: 0,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: "ves-sequencer anchor leader" },
  });
  return {
    async acquire() {
      try {
        const [row] = await sql<{ leader: boolean }[]>`
          select case
            when exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()
                         and classid = ${CLASS_ID}::oid and objid = ${purpose}::oid and objsubid = 2 and granted)
            then true
            else pg_try_advisory_lock(${CLASS_ID}::int, ${purpose}::int)
          end as leader`;
        return row?.leader === true;
      } catch {
        // Connection lost: whatever lock this session held is gone with it.
        return false;
      }
    },
    async release() {
      await sql.end({ timeout: 2 }).catch(() => {});
    },
  };
}

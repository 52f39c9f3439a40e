// Cross-instance invalidation of authentication caches over PostgreSQL LISTEN/NOTIFY. A notification is sent
// inside the transaction that makes the change, so it is delivered exactly when (and only if) it commits.
import type { Sql, TransactionSql } from "postgres";

export const AUTH_CHANNEL = "ves_auth_changes";

export interface AuthChange {
  readonly kind: "api_key";
  readonly prefix: string;
}

export async function notifyAuthChange(tx: TransactionSql, change: AuthChange): Promise<void> {
  await tx`select pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`;
}

export interface AuthChangeListener {
  stop(): Promise<void>;
}

/**
 * Calls `onChange` for every change committed by any instance. `onConnected` runs on the first LISTEN and after
 * every reconnection: notifications sent while disconnected are lost, so a cache must drop everything then.
 */
export async function listenAuthChanges(
  sql: Sql,
  onChange: (change: AuthChange) => void,
  onConnected: () => void,
): Promise<AuthChangeListener> {
  const sub = await sql.listen(
    AUTH_CHANNEL,
    (payload) => {
      try {
        const change = JSON.parse(payload) as AuthChange;
        if (change.kind === "api_key" && typeof change.prefix === "string") onChange(change);
      } catch {
        // Not ours to act on; a cache entry expires by its TTL anyway.
      }
    },
    onConnected,
  );
  return { stop: () => sub.unlisten() };
}

// The sequencer's receipt-signing keys as recorded in the log's database (current key first).
import type { Sql } from "postgres";
import { mapPgError } from "./pgErrors.js";

export interface SequencerKeyRecord {
  keyId: string;
  publicKey: Uint8Array;
  current: boolean;
  /** When an instance first signed with the key (first recorded). */
  validFrom: Date;
  /** When an instance last started with the key. */
  lastSeenAt: Date;
}

/** Records the key this process signs with; fails if the key id is already bound to another public key. */
export async function recordSequencerKey(
  sql: Sql,
  keyId: string,
  publicKey: Uint8Array,
  sequencerId: string,
): Promise<void> {
  try {
    const rows = await sql<{ public_key: Uint8Array }[]>`
      insert into sequencer_keys (key_id, public_key, sequencer_id) values (${keyId}, ${Buffer.from(publicKey)}, ${sequencerId})
      on conflict (key_id) do update set last_seen_at = now()
      returning public_key`;
    const stored = rows[0]?.public_key;
    if (stored === undefined || !Buffer.from(stored).equals(Buffer.from(publicKey))) {
      throw new Error(
        `sequencer key id ${keyId} is already bound to a different public key; choose another SEQUENCER_KEY_ID`,
      );
    }
  } catch (err) {
    throw mapPgError(err);
  }
}

export function createSequencerKeyList(sql: Sql, currentKeyId: string): () => Promise<SequencerKeyRecord[]> {
  return async () => {
    try {
      const rows = await sql<
        { key_id: string; public_key: Uint8Array; first_seen_at: Date; last_seen_at: Date }[]
      >`
        select key_id, public_key, first_seen_at, last_seen_at from sequencer_keys
        order by (key_id = ${currentKeyId}) desc, first_seen_at desc`;
      return rows.map((r) => ({
        keyId: r.key_id,
        publicKey: new Uint8Array(r.public_key),
        current: r.key_id === currentKeyId,
        validFrom: r.first_seen_at,
        lastSeenAt: r.last_seen_at,
      }));
    } catch (err) {
      throw mapPgError(err);
    }
  };
}

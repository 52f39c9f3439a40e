// The sequencer's receipt-signing keys as any verifier reads them, without a credential: over RPC
// (GetSequencerInfo) and as JSON at GET /.well-known/ves-sequencer-keys.json (docs/protocol.md §2.4, §16.7).
import { bytesToHex } from "../crypto/bytes.js";

export interface SequencerKeyView {
  readonly keyId: string;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The key that signs new receipts. */
  readonly current: boolean;
  /** When an instance first signed with the key. */
  readonly validFrom: Date;
  /** When an instance last started with the key. */
  readonly lastSeenAt: Date;
}

export const SEQUENCER_KEYS_PATH = "/.well-known/ves-sequencer-keys.json";

/** The JSON document (hashes and keys as lowercase hex, times as RFC 3339 UTC), one trailing newline. */
export function sequencerKeysJson(sequencerId: string, keys: readonly SequencerKeyView[]): string {
  const doc = {
    sequencerId,
    protocolVersion: "VES/1.0",
    keys: keys.map((k) => ({
      keyId: k.keyId,
      algorithm: "ed25519",
      publicKey: bytesToHex(k.publicKey),
      current: k.current,
      validFrom: k.validFrom.toISOString(),
      lastSeenAt: k.lastSeenAt.toISOString(),
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

// The sequencer's pinned identity (docs/protocol.md §16.7): id and receipt-signing key from configuration, or,
// in development, generated once and kept in the data directory.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { bytesToHex } from "../crypto/bytes.js";
import type { Ed25519 } from "../crypto/ed25519.js";
import type { Sha256 } from "../crypto/sha256.js";

export interface SequencerIdentity {
  readonly sequencerId: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyId: string;
  /** "config" or the file it was loaded from / created in. */
  readonly source: string;
  readonly created: boolean;
}

interface IdentityFile {
  sequencerId: string;
  signingKey: string;
}

/** Default key id: "ed25519:" and the first 16 hex characters of SHA-256(public key). */
export function defaultKeyId(sha256: Sha256, publicKey: Uint8Array): string {
  return `ed25519:${bytesToHex(sha256(publicKey)).slice(0, 16)}`;
}

export async function loadSequencerIdentity(
  opts: {
    sequencerId: string | undefined;
    seed: Uint8Array | undefined;
    keyId: string | undefined;
    dataDir: string;
  },
  ed25519: Ed25519,
  sha256: Sha256,
): Promise<SequencerIdentity> {
  let { sequencerId, seed } = opts;
  let source = "config";
  let created = false;
  if (sequencerId === undefined || seed === undefined) {
    const file = path.join(opts.dataDir, "sequencer-identity.json");
    let stored: IdentityFile | undefined;
    try {
      stored = JSON.parse(await readFile(file, "utf8")) as IdentityFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (stored === undefined) {
      stored = { sequencerId: sequencerId ?? randomUUID(), signingKey: bytesToHex(seed ?? randomBytes(32)) };
      await mkdir(opts.dataDir, { recursive: true });
      await writeFile(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      created = true;
    }
    sequencerId ??= stored.sequencerId;
    seed ??= new Uint8Array(Buffer.from(stored.signingKey, "hex"));
    source = file;
  }
  const publicKey = ed25519.getPublicKey(seed);
  return {
    sequencerId,
    seed,
    publicKey,
    keyId: opts.keyId ?? defaultKeyId(sha256, publicKey),
    source,
    created,
  };
}

// The key audit log (§16.8): per tenant, append-only, each entry hash-chained to the previous one:
// hash = SHA-256(prev_hash || UTF-8(content)), content = RFC 8785 JSON of the entry, first prev_hash = 32 zeros.

import { concatBytes, utf8 } from "../crypto/bytes.js";
import { canonicalJson } from "../crypto/canonicalJson.js";
import type { Sha256 } from "../crypto/sha256.js";

export type AuditAction =
  | "agent_key.registered"
  | "agent_key.rotated"
  | "agent_key.revoked"
  | "api_key.created"
  | "api_key.revoked"
  | "encryption_key.registered"
  | "encryption_key.revoked";

/** What a use case records; the log assigns seq and the chain. */
export interface AuditRecord {
  readonly tenantId: string;
  readonly at: Date;
  /** The credential that made the change (Principal.id). */
  readonly actor: string;
  readonly action: AuditAction;
  readonly subject: string;
  readonly details: Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
}

export interface AuditEntry {
  readonly tenantId: string;
  readonly seq: bigint;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  /** Exactly the bytes (as UTF-8) that were hashed. */
  readonly content: string;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
}

/** The canonical content of the entry `seq` of a tenant's log. */
export function auditContent(record: AuditRecord, seq: bigint): string {
  return canonicalJson({
    tenant_id: record.tenantId,
    seq: seq.toString(),
    at: record.at.toISOString(),
    actor: record.actor,
    action: record.action,
    subject: record.subject,
    details: record.details,
  });
}

export function auditHash(sha256: Sha256, prevHash: Uint8Array, content: string): Uint8Array {
  return sha256(concatBytes(prevHash, utf8(content)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The first entry that does not verify: its prev_hash is not the previous hash, its hash is not
 * H(prev_hash || content), or its columns disagree with its content. Undefined: the chain is intact.
 */
export function findBrokenAuditLink(
  sha256: Sha256,
  entries: readonly AuditEntry[],
  startHash: Uint8Array = new Uint8Array(32),
): AuditEntry | undefined {
  let prev = startHash;
  for (const e of entries) {
    if (!sameBytes(e.prevHash, prev) || !sameBytes(e.hash, auditHash(sha256, e.prevHash, e.content)))
      return e;
    const c = JSON.parse(e.content) as Record<string, unknown>;
    if (
      c.tenant_id !== e.tenantId ||
      c.seq !== e.seq.toString() ||
      c.at !== e.at.toISOString() ||
      c.actor !== e.actor ||
      c.action !== e.action ||
      c.subject !== e.subject
    ) {
      return e;
    }
    prev = e.hash;
  }
  return undefined;
}

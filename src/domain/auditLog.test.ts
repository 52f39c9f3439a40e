import { describe, expect, it } from "vitest";
import { bytesToHex, concatBytes, utf8 } from "../crypto/bytes.js";
import { nobleSha256 } from "../crypto/sha256.js";
import {
  type AuditEntry,
  type AuditRecord,
  auditContent,
  auditHash,
  findBrokenAuditLink,
} from "./auditLog.js";

const record = (i: number): AuditRecord => ({
  tenantId: "11111111-1111-4111-8111-111111111111",
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  actor: "bootstrap_admin",
  action: "agent_key.registered",
  subject: `agent_key:a/${i}`,
  details: { key_id: i, valid_to: null },
});

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev: Uint8Array = new Uint8Array(32);
  for (let i = 1; i <= n; i++) {
    const r = record(i);
    const content = auditContent(r, BigInt(i));
    const hash = auditHash(nobleSha256, prev, content);
    out.push({ ...r, seq: BigInt(i), content, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe("key audit log chain", () => {
  it("hashes H(prev_hash || UTF-8 of the RFC 8785 content)", () => {
    const content = auditContent(record(1), 1n);
    expect(content).toBe(
      '{"action":"agent_key.registered","actor":"bootstrap_admin","at":"2026-01-01T00:00:01.000Z",' +
        '"details":{"key_id":1,"valid_to":null},"seq":"1","subject":"agent_key:a/1",' +
        '"tenant_id":"11111111-1111-4111-8111-111111111111"}',
    );
    const prev = new Uint8Array(32).fill(7);
    expect(bytesToHex(auditHash(nobleSha256, prev, content))).toBe(
      bytesToHex(nobleSha256(concatBytes(prev, utf8(content)))),
    );
  });

  it("verifies an intact chain and names the first entry that was edited, dropped or reordered", () => {
    const log = chain(5);
    expect(findBrokenAuditLink(nobleSha256, log)).toBeUndefined();
    const edited = log.map((e, i) =>
      i === 2 ? { ...e, content: e.content.replace('"key_id":3', '"key_id":9') } : e,
    );
    expect(findBrokenAuditLink(nobleSha256, edited)?.seq).toBe(3n);
    expect(findBrokenAuditLink(nobleSha256, [...log.slice(0, 1), ...log.slice(2)])?.seq).toBe(3n);
    expect(findBrokenAuditLink(nobleSha256, [log[1] as AuditEntry, log[0] as AuditEntry])?.seq).toBe(2n);
    // A column that disagrees with the hashed content is caught too.
    const relabelled = log.map((e, i) => (i === 4 ? { ...e, actor: "someone else" } : e));
    expect(findBrokenAuditLink(nobleSha256, relabelled)?.seq).toBe(5n);
  });
});

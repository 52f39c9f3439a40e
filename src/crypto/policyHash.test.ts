// Tests for policy, proof and public-input hashes (docs/protocol.md §2.7, §16.5).
import { describe, expect, it } from "vitest";
import { concatBytes, utf8 } from "./bytes.js";
import {
  DOMAIN_COMPLIANCE_POLICY_HASH,
  DOMAIN_COMPLIANCE_PROOF_HASH,
  DOMAIN_VALIDITY_PROOF_HASH,
} from "./domains.js";
import { nativeSha256 as sha256 } from "./native.js";
import { complianceProofHash, policyHash, publicInputsHash, validityProofHash } from "./policyHash.js";

describe("policyHash", () => {
  it("hashes JCS of {policyId, policyParams} whatever the params' key order", () => {
    const expected = sha256(
      concatBytes(
        DOMAIN_COMPLIANCE_POLICY_HASH,
        utf8('{"policyId":"p","policyParams":{"a":1,"b":[1.5,"x"]}}'),
      ),
    );
    expect(policyHash(sha256, "p", { b: [1.5, "x"], a: 1.0 })).toEqual(expected);
    expect(policyHash(sha256, "p", {})).toEqual(
      sha256(concatBytes(DOMAIN_COMPLIANCE_POLICY_HASH, utf8('{"policyId":"p","policyParams":{}}'))),
    );
  });

  it("refuses params that would drop out of the JSON", () => {
    expect(() => policyHash(sha256, "p", undefined)).toThrow(
      new TypeError('"policy_params" expected a JSON value, got undefined'),
    );
    expect(() => policyHash(sha256, 1 as unknown as string, {})).toThrow(TypeError);
  });
});

describe("proof and public-input hashes", () => {
  it("use the right domain, or none for public inputs", () => {
    const proof = new Uint8Array([1, 2, 3]);
    expect(validityProofHash(sha256, proof)).toEqual(sha256(concatBytes(DOMAIN_VALIDITY_PROOF_HASH, proof)));
    expect(complianceProofHash(sha256, proof)).toEqual(
      sha256(concatBytes(DOMAIN_COMPLIANCE_PROOF_HASH, proof)),
    );
    expect(validityProofHash(sha256, proof)).not.toEqual(complianceProofHash(sha256, proof));
    expect(publicInputsHash(sha256, { b: 1, a: "x" })).toEqual(sha256(utf8('{"a":"x","b":1}')));
    expect(() => validityProofHash(sha256, "proof" as unknown as Uint8Array)).toThrow(TypeError);
  });
});

// Tests for stream id and state-root layouts (docs/protocol.md §2.6).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes, u32be, u64be, uuidToBytes, ZERO32 } from "./bytes.js";
import { DOMAIN_STATE_ROOT, DOMAIN_STREAM } from "./domains.js";
import { nativeSha256 as sha256 } from "./native.js";
import { nextStateRoot, streamId } from "./stateRoot.js";

const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe("streamId", () => {
  it("hashes the tenant and store UUID bytes", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.uuid(), (t, s) => {
        expect(streamId(sha256, t, s)).toEqual(
          sha256(concatBytes(DOMAIN_STREAM, uuidToBytes(t), uuidToBytes(s))),
        );
      }),
    );
    expect(() => streamId(sha256, "t", "00000000-0000-0000-0000-000000000002")).toThrow(/"tenant_id"/);
  });
});

describe("nextStateRoot", () => {
  it("hashes the 133-byte preimage", () => {
    fc.assert(
      fc.property(
        hash32,
        hash32,
        hash32,
        u64,
        u64,
        fc.integer({ min: 0, max: 0xffffffff }),
        (sid, prev, root, a, b, n) => {
          const pre = concatBytes(DOMAIN_STATE_ROOT, sid, prev, root, u64be(a), u64be(b), u32be(n));
          expect(pre).toHaveLength(133);
          const f = {
            streamId: sid,
            prevStateRoot: prev,
            merkleRoot: root,
            sequenceStart: a,
            sequenceEnd: b,
            leafCount: n,
          };
          expect(nextStateRoot(sha256, f)).toEqual(sha256(pre));
        },
      ),
    );
  });

  it("names the malformed field", () => {
    const f = {
      streamId: ZERO32,
      prevStateRoot: ZERO32,
      merkleRoot: ZERO32,
      sequenceStart: 1n,
      sequenceEnd: 2n,
      leafCount: 2,
    };
    expect(() => nextStateRoot(sha256, { ...f, prevStateRoot: new Uint8Array(0) })).toThrow(
      new RangeError('"prev_state_root" expected 32 bytes, got 0'),
    );
    expect(() => nextStateRoot(sha256, { ...f, leafCount: -1 })).toThrow(/"leaf_count"/);
    expect(() => nextStateRoot(sha256, { ...f, sequenceEnd: -1n })).toThrow(/"sequence_end"/);
  });
});

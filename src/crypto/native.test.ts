// Tests for the server-only native SHA-256 and Ed25519 wrappers (docs/protocol.md §16.4).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nativeSha256, nodeEd25519, sodiumEd25519 } from "./native.js";
import { nobleSha256 } from "./sha256.js";

describe("nativeSha256", () => {
  it("agrees with noble on any input, including views into larger buffers", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat({ max: 16 }), (data, offset) => {
        const backing = new Uint8Array(offset + data.length + 7);
        backing.set(data, offset);
        const view = backing.subarray(offset, offset + data.length);
        expect(nativeSha256(view)).toEqual(nobleSha256(data));
      }),
    );
  });

  it("returns a plain 32-byte Uint8Array that owns its memory", () => {
    const d = nativeSha256(new Uint8Array([1, 2, 3]));
    expect(Object.getPrototypeOf(d)).toBe(Uint8Array.prototype);
    expect(d.byteLength).toBe(32);
    expect(d.buffer.byteLength).toBe(32);
  });
});

describe("native Ed25519 outputs", () => {
  it("are plain Uint8Arrays, not Buffers", () => {
    const seed = new Uint8Array(32).fill(1);
    for (const ed of [sodiumEd25519, nodeEd25519]) {
      expect(Object.getPrototypeOf(ed.getPublicKey(seed)), ed.name).toBe(Uint8Array.prototype);
      expect(Object.getPrototypeOf(ed.createSigner(seed)(new Uint8Array())), ed.name).toBe(
        Uint8Array.prototype,
      );
    }
  });

  it("verify many keys through the node:crypto key cache", () => {
    for (let i = 0; i < 50; i++) {
      const seed = new Uint8Array(32).fill(i);
      const pk = nodeEd25519.getPublicKey(seed);
      const sig = nodeEd25519.createSigner(seed)(new Uint8Array([i]));
      expect(nodeEd25519.verify(sig, new Uint8Array([i]), pk)).toBe(true);
      expect(nodeEd25519.verify(sig, new Uint8Array([i]), pk)).toBe(true);
      expect(nodeEd25519.verify(sig, new Uint8Array([i + 1]), pk)).toBe(false);
    }
  });
});

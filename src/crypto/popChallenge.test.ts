// Tests for the proof-of-possession challenge (docs/protocol.md §2.7).
import { describe, expect, it } from "vitest";
import { concatBytes } from "./bytes.js";
import { DOMAIN_POP } from "./domains.js";
import { nativeSha256 as sha256 } from "./native.js";
import { popChallenge } from "./popChallenge.js";

describe("popChallenge", () => {
  it("hashes the domain and the key bytes, of any non-zero length", () => {
    const ed = new Uint8Array(32).fill(1);
    const hybrid = concatBytes(ed, new Uint8Array(1952).fill(2));
    expect(popChallenge(sha256, ed)).toEqual(sha256(concatBytes(DOMAIN_POP, ed)));
    expect(popChallenge(sha256, hybrid)).toEqual(sha256(concatBytes(DOMAIN_POP, hybrid)));
    expect(() => popChallenge(sha256, new Uint8Array())).toThrow(
      new RangeError('"public_key" expected at least 1 byte, got 0'),
    );
  });
});

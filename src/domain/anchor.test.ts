// The anchoring worker's decisions, without a chain: finality by depth, reorgs, plans, retry delays.
import { describe, expect, it } from "vitest";
import {
  anchorRetryDelayMs,
  bumpFees,
  checkAnchor,
  hex32,
  initialFees,
  judgeAnchorTx,
  type OnChainCommitment,
  planStreamAnchors,
  replacementMinimum,
  toAnchorInput,
  uuidToBytes32,
} from "./anchor.js";
import type { Commitment } from "./commitment.js";

const H = (n: number): `0x${string}` => `0x${n.toString(16).padStart(64, "0")}`;
const t0 = new Date("2026-01-01T00:00:00Z");
const later = (ms: number) => new Date(t0.getTime() + ms);

describe("judgeAnchorTx", () => {
  const submitted = { status: "submitted" as const, submittedAt: t0 };
  const included = { status: "included" as const, submittedAt: t0 };
  const receipt = { status: "success" as const, blockNumber: 100n, blockHash: H(1) };

  it("counts depth from the receipt's block: final at `confirmations` blocks, not by time", () => {
    const seen = (head: bigint) => ({ receipt, canonicalHash: H(1), known: true, head });
    expect(judgeAnchorTx(submitted, seen(100n), 3, later(10 ** 9), 1000)).toEqual({
      kind: "included",
      blockNumber: 100n,
      blockHash: H(1),
      depth: 1n,
    });
    expect(judgeAnchorTx(submitted, seen(101n), 3, t0, 1000).kind).toBe("included");
    expect(judgeAnchorTx(submitted, seen(102n), 3, t0, 1000)).toMatchObject({ kind: "final", depth: 3n });
  });

  it("calls it a reorg when the receipt's block is no longer canonical, or an included tx lost its receipt", () => {
    expect(
      judgeAnchorTx(included, { receipt, canonicalHash: H(2), known: true, head: 200n }, 3, t0, 0).kind,
    ).toBe("reorged");
    expect(
      judgeAnchorTx(included, { receipt, canonicalHash: undefined, known: true, head: 99n }, 3, t0, 0).kind,
    ).toBe("reorged");
    expect(
      judgeAnchorTx(
        included,
        { receipt: undefined, canonicalHash: undefined, known: false, head: 200n },
        3,
        t0,
        0,
      ).kind,
    ).toBe("reorged");
  });

  it("waits for a pending tx, and gives a forgotten one vanishAfterMs before it counts as gone", () => {
    const none = { receipt: undefined, canonicalHash: undefined, head: 1n };
    expect(judgeAnchorTx(submitted, { ...none, known: true }, 3, later(10 ** 6), 1000).kind).toBe("pending");
    expect(judgeAnchorTx(submitted, { ...none, known: false }, 3, later(999), 1000).kind).toBe("pending");
    expect(judgeAnchorTx(submitted, { ...none, known: false }, 3, later(1000), 1000).kind).toBe("vanished");
  });

  it("reports a reverted transaction", () => {
    const r = { ...receipt, status: "reverted" as const };
    expect(
      judgeAnchorTx(submitted, { receipt: r, canonicalHash: H(1), known: true, head: 100n }, 1, t0, 0),
    ).toEqual({
      kind: "reverted",
      blockNumber: 100n,
    });
  });
});

function commitment(start: bigint, end: bigint, root: number): Commitment {
  return {
    commitmentId: `c${end}`,
    tenantId: "6d1c5b0e-2a4f-4c3b-9d8e-7f6a5b4c3d2e",
    storeId: "00000000-0000-4000-8000-000000000001",
    sequenceStart: start,
    sequenceEnd: end,
    leafCount: Number(end - start + 1n),
    paddedLeafCount: 1,
    treeDepth: 0,
    merkleRoot: new Uint8Array(32).fill(root),
    prevStateRoot: new Uint8Array(32),
    newStateRoot: new Uint8Array(32).fill(root + 1),
    sequencerId: "",
    sequencerKeyId: "",
    checkpointHash: new Uint8Array(32),
    signature: new Uint8Array(64),
    committedAt: t0,
  };
}

const onChain = (c: Commitment): OnChainCommitment => ({
  sequenceStart: c.sequenceStart,
  sequenceEnd: c.sequenceEnd,
  merkleRoot: hex32(c.merkleRoot),
  prevStateRoot: hex32(c.prevStateRoot),
  newStateRoot: hex32(c.newStateRoot),
  blockNumber: 7n,
});

describe("planStreamAnchors", () => {
  const cs = [commitment(1n, 4n, 1), commitment(5n, 6n, 3), commitment(7n, 9n, 5)];

  it("sends everything after the chain's end, in chain order", () => {
    const plan = planStreamAnchors(cs, 0n, new Map());
    expect(plan.kind === "plan" && plan.toSend.map((c) => c.sequenceEnd)).toEqual([4n, 6n, 9n]);
  });

  it("records what the chain already holds with the same roots, and never sends it again", () => {
    const plan = planStreamAnchors(
      cs,
      6n,
      new Map([4n, 6n].map((e, i) => [e, onChain(cs[i] as Commitment)])),
    );
    expect(plan.kind === "plan" && plan.onChain.map((x) => x.commitment.sequenceEnd)).toEqual([4n, 6n]);
    expect(plan.kind === "plan" && plan.toSend.map((c) => c.sequenceEnd)).toEqual([9n]);
  });

  it("refuses to go on when the chain holds other roots, other boundaries or less than recorded", () => {
    const other = { ...onChain(cs[0] as Commitment), merkleRoot: H(9) };
    expect(planStreamAnchors(cs, 4n, new Map([[4n, other]]))).toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/commitment 1..4: the contract holds other roots/),
    });
    expect(planStreamAnchors(cs, 2n, new Map())).toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/the contract's last end 2 falls inside it/),
    });
    expect(planStreamAnchors(cs.slice(1), 0n, new Map())).toMatchObject({
      kind: "conflict",
      message: expect.stringMatching(/the contract's last end is 0, expected 4/),
    });
  });
});

describe("checkAnchor", () => {
  const c = commitment(5n, 6n, 3);
  it("accepts the same range, roots and chain link, and names the first difference otherwise", () => {
    expect(checkAnchor(c, onChain(c))).toEqual({ valid: true });
    expect(checkAnchor(c, undefined)).toMatchObject({ valid: false, reason: "not_anchored" });
    expect(checkAnchor(c, { ...onChain(c), sequenceStart: 4n })).toMatchObject({ reason: "range_mismatch" });
    expect(checkAnchor(c, { ...onChain(c), merkleRoot: H(1) })).toMatchObject({
      reason: "merkle_root_mismatch",
    });
    expect(checkAnchor(c, { ...onChain(c), newStateRoot: H(1) })).toMatchObject({
      reason: "new_state_root_mismatch",
    });
    expect(checkAnchor(c, { ...onChain(c), prevStateRoot: H(1) })).toMatchObject({
      reason: "prev_state_root_mismatch",
      message: `the contract's previous state root (chain link) is ${H(1)}, expected ${hex32(c.prevStateRoot)}`,
    });
  });
});

describe("anchorRetryDelayMs", () => {
  const opts = { baseMs: 1000, maxMs: 8000, slowMs: 60_000 };
  it("backs off retryable failures exponentially to a cap, with ±50% jitter", () => {
    expect([1, 2, 3, 4, 5].map((n) => anchorRetryDelayMs("retryable", n, 0.5, opts))).toEqual([
      1000, 2000, 4000, 8000, 8000,
    ]);
    expect(anchorRetryDelayMs("retryable", 1, 0, opts)).toBe(500);
    expect(anchorRetryDelayMs("retryable", 1, 0.999, opts)).toBe(1499);
  });
  it("retries refusals and missing funds at the slow pace", () => {
    expect(anchorRetryDelayMs("refused", 1, 0.5, opts)).toBe(60_000);
    expect(anchorRetryDelayMs("insufficient_funds", 9, 0.5, opts)).toBe(60_000);
  });
});

describe("toAnchorInput", () => {
  it("writes UUIDs as bytes32 the upstream way: 16 bytes then 16 zero bytes", () => {
    expect(uuidToBytes32("6d1c5b0e-2a4f-4c3b-9d8e-7f6a5b4c3d2e")).toBe(
      `0x6d1c5b0e2a4f4c3b9d8e7f6a5b4c3d2e${"0".repeat(32)}`,
    );
    const input = toAnchorInput(commitment(1n, 4n, 1));
    expect(input.leafCount).toBe(4);
    expect(input.merkleRoot).toBe(`0x${"01".repeat(32)}`);
  });
});

describe("fee bumping", () => {
  const gwei = (n: number) => BigInt(Math.round(n * 1e9));
  const fees = (max: number, tip: number) => ({ maxFeePerGas: gwei(max), maxPriorityFeePerGas: gwei(tip) });

  it("asks at least + 12.5 % (rounded up) and at least 1 wei more", () => {
    expect(replacementMinimum(800n)).toBe(900n);
    expect(replacementMinimum(801n)).toBe(902n);
    expect(replacementMinimum(0n)).toBe(1n);
    expect(replacementMinimum(1n)).toBe(2n);
  });

  it("raises both fees by the replacement minimum, or to the network's estimate when that is higher", () => {
    expect(bumpFees(fees(10, 2), fees(5, 1), gwei(500))).toEqual({ kind: "bump", ...fees(11.25, 2.25) });
    expect(bumpFees(fees(10, 2), fees(30, 3), gwei(500))).toEqual({ kind: "bump", ...fees(30, 3) });
  });

  it("caps the max fee, keeps the tip under it, and stops once the minimum passes the cap", () => {
    expect(bumpFees(fees(10, 2), fees(30, 3), gwei(12))).toEqual({ kind: "bump", ...fees(12, 3) });
    expect(bumpFees(fees(12, 3), fees(30, 3), gwei(12))).toEqual({ kind: "capped", needed: gwei(13.5) });
    expect(bumpFees(fees(10, 10), fees(10, 10), gwei(11.25))).toEqual({
      kind: "bump",
      ...fees(11.25, 11.25),
    });
  });

  it("caps the first version's fees too", () => {
    expect(initialFees(fees(30, 2), gwei(500))).toEqual(fees(30, 2));
    expect(initialFees(fees(30, 2), gwei(1))).toEqual(fees(1, 1));
  });
});

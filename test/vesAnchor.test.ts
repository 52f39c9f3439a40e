// contracts/VesAnchor.sol on a real anvil: chain enforcement with typed errors, authorization, pause, views, and
// verifyInclusion agreeing with the SDK's Merkle verifier on valid and forged proofs.
import { randomBytes, randomUUID } from "node:crypto";
import { encodeFunctionData, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vesAnchorAbi } from "../contracts/gen/vesAnchor.js";
import { bytesToHex } from "../src/crypto/bytes.js";
import { inclusionProof, PAD_LEAF, verifyInclusionProof } from "../src/crypto/merkle.js";
import { nativeSha256 } from "../src/crypto/native.js";
import { type AnchorInput, hex32, toAnchorInput, uuidToBytes32 } from "../src/domain/anchor.js";
import { buildCommitment, type UnsignedCommitment } from "../src/domain/buildCommitment.js";
import type { StreamKey } from "../src/domain/event.js";
import { anchorRevert } from "../src/infra/eth/anchorRevert.js";
import { ANVIL_DEV_KEY_1 } from "../src/infra/eth/anvil.js";
import { anchorWalletClient } from "../src/infra/eth/chain.js";
import { type AnchorChainFixture, startAnchorChain } from "./support/anvil.js";

let fx: AnchorChainFixture;
beforeAll(async () => {
  fx = await startAnchorChain();
});
afterAll(async () => {
  await fx?.stop();
});

function stream(): StreamKey {
  return { tenantId: randomUUID(), storeId: randomUUID() };
}

/** The stream's commitments of the given sizes, chained from sequence 1. */
function chainOf(s: StreamKey, sizes: readonly number[]): UnsignedCommitment[] {
  const out: UnsignedCommitment[] = [];
  let seq = 1n;
  for (const n of sizes) {
    const leaves = Array.from({ length: n }, (_, i) => ({
      sequenceNumber: seq + BigInt(i),
      eventSigningHash: new Uint8Array(randomBytes(32)),
      agentSignature: new Uint8Array(randomBytes(64)),
    }));
    const prev = out.at(-1);
    out.push(buildCommitment(nativeSha256, s, prev, leaves));
    seq += BigInt(n);
  }
  return out;
}

async function anchor(input: AnchorInput, wallet = fx.wallet): Promise<void> {
  const { request } = await fx.client.simulateContract({
    address: fx.address,
    abi: vesAnchorAbi,
    functionName: "anchor",
    args: [input],
    account: wallet.account,
  });
  const hash = await wallet.writeContract(request);
  const receipt = await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  expect(receipt.status).toBe("success");
}

async function refusal(
  input: AnchorInput,
  wallet = fx.wallet,
): Promise<{ errorName: string; args: unknown[] }> {
  try {
    await anchor(input, wallet);
  } catch (err) {
    const r = anchorRevert(err);
    if (r === undefined) throw err;
    return { errorName: r.errorName, args: [...r.args] };
  }
  throw new Error("expected the contract to refuse");
}

describe("VesAnchor chain enforcement", () => {
  it("anchors a stream's chain from 1 and refuses gaps, wrong prev roots, wrong state roots and repeats", async () => {
    const s = stream();
    const [c1, c2, c3] = chainOf(s, [3, 4, 2]) as [
      UnsignedCommitment,
      UnsignedCommitment,
      UnsignedCommitment,
    ];
    const t = uuidToBytes32(s.tenantId);
    const st = uuidToBytes32(s.storeId);
    // The first commitment must start at 1.
    expect(await refusal(toAnchorInput(c2))).toEqual({ errorName: "SequenceGap", args: [t, st, 1n, 4n] });
    await anchor(toAnchorInput(c1));
    // A gap: c3 before c2.
    expect(await refusal(toAnchorInput(c3))).toEqual({ errorName: "SequenceGap", args: [t, st, 4n, 8n] });
    // c2 with a prev state root other than c1's new one.
    const wrongPrev = { ...toAnchorInput(c2), prevStateRoot: hex32(new Uint8Array(32).fill(7)) };
    expect(await refusal(wrongPrev)).toEqual({
      errorName: "StateRootMismatch",
      args: [t, st, hex32(c1.newStateRoot), wrongPrev.prevStateRoot],
    });
    // c2 whose new state root is not H(VES_STATE_ROOT_V1 ‖ ...) of its fields.
    const forgedRoot = { ...toAnchorInput(c2), merkleRoot: hex32(new Uint8Array(32).fill(1)) };
    expect((await refusal(forgedRoot)).errorName).toBe("StateRootInvalid");
    expect(await refusal({ ...toAnchorInput(c2), leafCount: 5 })).toEqual({
      errorName: "LeafCountMismatch",
      args: [4, 5],
    });
    expect(
      (await refusal({ ...toAnchorInput(c2), tenantId: hex32(new Uint8Array(32).fill(1)) })).errorName,
    ).toBe("InvalidId");
    await anchor(toAnchorInput(c2));
    // The same commitment again is a gap (the stream is past it): no double anchor.
    expect((await refusal(toAnchorInput(c2))).errorName).toBe("SequenceGap");
    await anchor(toAnchorInput(c3));

    const [end, root] = await fx.client.readContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "latest",
      args: [t, st],
    });
    expect(end).toBe(9n);
    expect(root).toBe(hex32(c3.newStateRoot));
    const v = await fx.client.readContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "getCommitment",
      args: [t, st, 7n],
    });
    expect(v.sequenceStart).toBe(4n);
    expect(v.leafCount).toBe(4);
    expect(v.merkleRoot).toBe(hex32(c2.merkleRoot));
    expect(v.prevStateRoot).toBe(hex32(c1.newStateRoot));
    expect(v.newStateRoot).toBe(hex32(c2.newStateRoot));
    expect(v.blockNumber).toBeGreaterThan(0n);
    const none = await fx.client.readContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "getCommitment",
      args: [t, st, 6n],
    });
    expect(none.blockNumber).toBe(0n);
    // The contract's stream id and state root are the SDK's (§2.6).
    expect(
      await fx.client.readContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "stateRoot",
        args: [toAnchorInput(c2)],
      }),
    ).toBe(hex32(c2.newStateRoot));
  });

  it("anchorMany anchors several streams' commitments in one transaction and emits an event for each", async () => {
    const a = chainOf(stream(), [1, 2]);
    const b = chainOf(stream(), [5]);
    const inputs = [...a, ...b].map(toAnchorInput);
    const hash = await fx.wallet.writeContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "anchorMany",
      args: [inputs],
    });
    const receipt = await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    expect(receipt.status).toBe("success");
    const logs = await fx.client.getContractEvents({
      address: fx.address,
      abi: vesAnchorAbi,
      eventName: "CommitmentAnchored",
      fromBlock: receipt.blockNumber,
      toBlock: receipt.blockNumber,
    });
    expect(logs.map((l) => l.args.sequenceEnd)).toEqual([1n, 3n, 5n]);
    expect(logs.every((l) => l.args.submitter === fx.owner.address)).toBe(true);
    // Out of chain order inside one batch: the whole transaction is refused.
    const c = chainOf(stream(), [1, 1]);
    await expect(
      fx.client.simulateContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "anchorMany",
        args: [[toAnchorInput(c[1] as UnsignedCommitment), toAnchorInput(c[0] as UnsignedCommitment)]],
        account: fx.owner,
      }),
    ).rejects.toSatisfy((err) => anchorRevert(err)?.errorName === "SequenceGap");
  });
});

describe("VesAnchor authorization", () => {
  it("lets only submitters anchor, only the owner manage submitters and pause", async () => {
    const other = anchorWalletClient(fx.chain, fx.anvil.url, privateKeyToAccount(ANVIL_DEV_KEY_1));
    const [c1] = chainOf(stream(), [2]) as [UnsignedCommitment];
    expect(await refusal(toAnchorInput(c1), other)).toEqual({
      errorName: "NotSubmitter",
      args: [getAddress(other.account.address)],
    });
    await expect(
      fx.client.simulateContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "setSubmitter",
        args: [other.account.address, true],
        account: other.account,
      }),
    ).rejects.toSatisfy((err) => anchorRevert(err)?.errorName === "NotOwner");
    const owner = async (functionName: "pause" | "unpause" | "setSubmitter", args?: readonly unknown[]) => {
      const hash = await fx.wallet.writeContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName,
        args: args as never,
      } as never);
      await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    };
    await owner("setSubmitter", [other.account.address, true]);
    await owner("pause");
    expect(await refusal(toAnchorInput(c1), other)).toEqual({ errorName: "ContractPaused", args: [] });
    await owner("unpause");
    await anchor(toAnchorInput(c1), other);
    await owner("setSubmitter", [other.account.address, false]);
    const [, c2] = [c1, ...chainOf(stream(), [1])];
    expect((await refusal(toAnchorInput(c2 as UnsignedCommitment), other)).errorName).toBe("NotSubmitter");
  });
});

describe("VesAnchor.verifyInclusion", () => {
  it("agrees with the SDK on every valid proof and on forged ones, and reports its gas", async () => {
    const s = stream();
    const sizes = [1, 2, 3, 5, 8, 13];
    const chain = chainOf(s, sizes);
    const hash = await fx.wallet.writeContract({
      address: fx.address,
      abi: vesAnchorAbi,
      functionName: "anchorMany",
      args: [chain.map(toAnchorInput)],
    });
    await fx.client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    const t = uuidToBytes32(s.tenantId);
    const st = uuidToBytes32(s.storeId);
    const onChain = (
      c: UnsignedCommitment,
      leaf: Uint8Array,
      index: number,
      siblings: readonly Uint8Array[],
    ) =>
      fx.client.readContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "verifyInclusion",
        args: [t, st, c.sequenceEnd, hex32(leaf), BigInt(index), siblings.map(hex32)],
      });
    const sdk = (c: UnsignedCommitment, leaf: Uint8Array, index: number, siblings: readonly Uint8Array[]) =>
      verifyInclusionProof(nativeSha256, {
        leafHash: leaf,
        leafIndex: index,
        siblings,
        root: c.merkleRoot,
        leafCount: c.leafCount,
      });
    const flip = (b: Uint8Array): Uint8Array => {
      const x = new Uint8Array(b);
      x[x.length - 1] = (x[x.length - 1] as number) ^ 1;
      return x;
    };
    let checked = 0;
    for (const c of chain) {
      for (let i = 0; i < c.leafCount; i++) {
        const leaf = (c.tree.levels[0] as Uint8Array[])[i] as Uint8Array;
        const siblings = inclusionProof(c.tree, i);
        const cases: [Uint8Array, number, readonly Uint8Array[], boolean][] = [
          [leaf, i, siblings, true],
          [flip(leaf), i, siblings, false],
          [leaf, i ^ 1, siblings, false],
          [leaf, i + c.paddedLeafCount, siblings, false],
          [leaf, i, [...siblings, PAD_LEAF], false],
        ];
        if (siblings.length > 0) {
          cases.push([leaf, i, siblings.slice(1), false]);
          cases.push([leaf, i, [flip(siblings[0] as Uint8Array), ...siblings.slice(1)], false]);
        }
        for (const [l, idx, sib, expected] of cases) {
          expect(sdk(c, l, idx, sib), `SDK ${c.leafCount}/${idx}`).toBe(expected);
          expect(await onChain(c, l, idx, sib), `contract ${c.leafCount}/${idx}`).toBe(expected);
          checked++;
        }
      }
      // A padding position (index past the last leaf) with the padding leaf proves nothing.
      if (c.paddedLeafCount > c.leafCount) {
        const padIndex = c.leafCount;
        const siblings = inclusionProof({ ...c.tree, leafCount: c.paddedLeafCount }, padIndex);
        expect(sdk(c, PAD_LEAF, padIndex, siblings)).toBe(false);
        expect(await onChain(c, PAD_LEAF, padIndex, siblings)).toBe(false);
      }
    }
    expect(checked).toBeGreaterThan(100);
    // Not anchored: false.
    const other = chainOf(stream(), [2])[0] as UnsignedCommitment;
    expect(
      await fx.client.readContract({
        address: fx.address,
        abi: vesAnchorAbi,
        functionName: "verifyInclusion",
        args: [uuidToBytes32(randomUUID()), st, other.sequenceEnd, hex32(other.merkleRoot), 0n, []],
      }),
    ).toBe(false);
    // Gas of one proof in the 13-leaf commitment (4 siblings), as a transaction would pay it.
    const c13 = chain.at(-1) as UnsignedCommitment;
    const gas = await fx.client.estimateGas({
      to: fx.address,
      account: fx.owner,
      data: encodeFunctionData({
        abi: vesAnchorAbi,
        functionName: "verifyInclusion",
        args: [
          t,
          st,
          c13.sequenceEnd,
          hex32((c13.tree.levels[0] as Uint8Array[])[5] as Uint8Array),
          5n,
          inclusionProof(c13.tree, 5).map(hex32),
        ],
      }),
    });
    expect(gas).toBeLessThan(60_000n);
    process.stdout.write(`verifyInclusion gas, 4 siblings (incl. 21000 base): ${gas}\n`);
    expect(bytesToHex(PAD_LEAF)).toBe(
      (
        await fx.client.readContract({ address: fx.address, abi: vesAnchorAbi, functionName: "PAD_LEAF" })
      ).slice(2),
    );
  });
});

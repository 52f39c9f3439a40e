// Builds the next commitment of a stream from its leaves: the padded Merkle tree (§2.5), the chained state root
// (§2.6) and the checkpoint hash the sequencer signs. Refuses anything but the range right after the last one.
import { ZERO32 } from "../crypto/bytes.js";
import { checkpointHash } from "../crypto/checkpoint.js";
import { buildMerkleTree, type MerkleTree, streamLeafHasher } from "../crypto/merkle.js";
import type { Sha256 } from "../crypto/sha256.js";
import { nextStateRoot, streamId } from "../crypto/stateRoot.js";
import type { Commitment, LeafInput } from "./commitment.js";
import { DomainError } from "./errors.js";
import type { StreamKey } from "./event.js";

/** The last commitment of a stream, which the next one chains to. */
export interface ChainTip {
  readonly sequenceEnd: bigint;
  readonly newStateRoot: Uint8Array;
}

/** A commitment before the sequencer signs it, with its tree. */
export type UnsignedCommitment = Omit<
  Commitment,
  "commitmentId" | "sequencerId" | "sequencerKeyId" | "signature" | "committedAt"
> & { readonly tree: MerkleTree };

/**
 * `leaves` must be the events tip.sequenceEnd + 1 .. in order with no gap (tip undefined: from sequence 1).
 * A gap or a wrong start means the log lost events or the caller read the wrong range: DomainError
 * "data_loss", and nothing is sealed.
 */
export function buildCommitment(
  sha256: Sha256,
  stream: StreamKey,
  tip: ChainTip | undefined,
  leaves: readonly LeafInput[],
): UnsignedCommitment {
  const start = (tip?.sequenceEnd ?? 0n) + 1n;
  if (leaves.length === 0) {
    throw new DomainError("data_loss", `no events to seal from sequence ${start}`, {
      expected: `events from ${start}`,
      actual: "none",
    });
  }
  const hashes = new Array<Uint8Array>(leaves.length);
  const hashLeaf = streamLeafHasher(sha256, stream.tenantId, stream.storeId);
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i] as LeafInput;
    const expected = start + BigInt(i);
    if (leaf.sequenceNumber !== expected) {
      throw new DomainError(
        "data_loss",
        `stream ${stream.tenantId}/${stream.storeId}: expected event ${expected} next while sealing, got ${leaf.sequenceNumber}`,
        { expected: `${expected}`, actual: `${leaf.sequenceNumber}` },
      );
    }
    hashes[i] = hashLeaf(leaf.sequenceNumber, leaf.eventSigningHash, leaf.agentSignature);
  }
  const tree = buildMerkleTree(sha256, hashes);
  const end = start + BigInt(leaves.length - 1);
  const prevStateRoot = tip?.newStateRoot ?? ZERO32;
  const fields = {
    tenantId: stream.tenantId,
    storeId: stream.storeId,
    sequenceStart: start,
    sequenceEnd: end,
    leafCount: leaves.length,
    merkleRoot: tree.root,
    prevStateRoot,
  };
  const newStateRoot = nextStateRoot(sha256, {
    streamId: streamId(sha256, stream.tenantId, stream.storeId),
    ...fields,
  });
  return {
    ...fields,
    paddedLeafCount: tree.paddedLeafCount,
    treeDepth: tree.depth,
    newStateRoot,
    checkpointHash: checkpointHash(sha256, { ...fields, newStateRoot }),
    tree,
  };
}

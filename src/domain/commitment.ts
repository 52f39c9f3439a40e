// Commitments, inclusion proofs and state-root chains (docs/protocol.md §2.5, §2.6, §16.10). Plain data. Field
// names follow proof.proto, so protobuf messages can be passed where these shapes are expected.

/** A signed checkpoint over events sequenceStart..sequenceEnd of one stream. */
export interface Commitment {
  readonly commitmentId: string;
  readonly tenantId: string;
  readonly storeId: string;
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
  readonly paddedLeafCount: number;
  readonly treeDepth: number;
  readonly merkleRoot: Uint8Array;
  readonly prevStateRoot: Uint8Array;
  readonly newStateRoot: Uint8Array;
  readonly sequencerId: string;
  readonly sequencerKeyId: string;
  /** H(checkpoint preimage), see crypto/checkpoint.ts. */
  readonly checkpointHash: Uint8Array;
  /** Ed25519 over checkpointHash with the sequencer key `sequencerKeyId`. */
  readonly signature: Uint8Array;
  readonly committedAt: Date;
}

/** What a leaf is made of, as stored with each event. */
export interface LeafInput {
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  readonly agentSignature: Uint8Array;
}

/** A Merkle inclusion proof of one event; the leaf is recomputed from the fields (§2.5). */
export interface InclusionProof {
  readonly tenantId: string;
  readonly storeId: string;
  readonly eventId: string;
  readonly sequenceNumber: bigint;
  readonly eventSigningHash: Uint8Array;
  readonly agentSignature: Uint8Array;
  readonly leafHash: Uint8Array;
  readonly commitmentId: string;
  readonly sequenceStart: bigint;
  readonly leafCount: number;
  readonly leafIndex: number;
  /** Bottom up. */
  readonly siblings: readonly Uint8Array[];
  readonly merkleRoot: Uint8Array;
}

/** One commitment's inputs to the state-root chain. */
export interface StateLink {
  readonly sequenceStart: bigint;
  readonly sequenceEnd: bigint;
  readonly leafCount: number;
  readonly merkleRoot: Uint8Array;
}

/** The links from one state root (0 / zeros: the genesis) to a later one. */
export interface ConsistencyProof {
  readonly tenantId: string;
  readonly storeId: string;
  readonly fromSequenceEnd: bigint;
  readonly fromStateRoot: Uint8Array;
  readonly toSequenceEnd: bigint;
  readonly toStateRoot: Uint8Array;
  readonly links: readonly StateLink[];
}

/** Links one consistency proof may carry (about 4 M events at the default 1,024 per commitment). */
export const MAX_CONSISTENCY_LINKS = 4096;

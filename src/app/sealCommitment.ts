// Use case: seal a stream's next commitment if it is due (docs/protocol.md §2.5, §2.6, §16.10). Runs under the
// stream's commitment lock in one short transaction: read the leaves, build the tree and state root, sign the
// checkpoint, insert. Another worker holding the lock means "busy", never a second commitment.
import { buildCommitment } from "../domain/buildCommitment.js";
import type { Commitment } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import { type SealPolicy, sealDecision } from "../domain/sealPolicy.js";
import type { SealDeps } from "./ports.js";

export type SealOutcome =
  | {
      readonly kind: "sealed";
      readonly commitment: Commitment;
      /** When the oldest event of the commitment was sequenced. */
      readonly firstSequencedAt: Date | undefined;
      /** Whether more events are already waiting past the commitment. */
      readonly more: boolean;
    }
  /** Another worker holds the stream's lock. */
  | { readonly kind: "busy" }
  | { readonly kind: "wait"; readonly dueAt: number }
  | { readonly kind: "idle" };

export interface SealHooks {
  /** Called with the commitment inserted and its transaction still open (fault injection in tests). */
  readonly beforeCommit?: (commitment: Commitment) => void;
}

export async function sealCommitment(
  deps: SealDeps,
  stream: StreamKey,
  policy: SealPolicy,
  hooks: SealHooks = {},
): Promise<SealOutcome> {
  const result = await deps.commitments.withSealLock(stream, async (lock): Promise<SealOutcome> => {
    const decision = sealDecision(lock, deps.clock.now(), policy);
    if (decision.kind !== "seal") return decision;
    const leaves = await lock.leaves(decision.start, decision.end);
    const built = buildCommitment(deps.sha256, stream, lock.tip, leaves);
    const { tree, ...fields } = built;
    const commitment: Commitment = {
      ...fields,
      commitmentId: deps.newId(),
      sequencerId: deps.signer.sequencerId,
      sequencerKeyId: deps.signer.keyId,
      signature: deps.signer.sign(built.checkpointHash),
      committedAt: deps.clock.now(),
    };
    await lock.insert(commitment, tree);
    hooks.beforeCommit?.(commitment);
    return {
      kind: "sealed",
      commitment,
      firstSequencedAt: lock.firstUnsealedAt,
      more: lock.head > commitment.sequenceEnd,
    };
  });
  return result.acquired ? result.value : { kind: "busy" };
}

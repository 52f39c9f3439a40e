// Use case: a stream's head, latest commitment and latest state root (§2.6; upstream GetSyncState).
import { ZERO32 } from "../crypto/bytes.js";
import type { Commitment } from "../domain/commitment.js";
import type { StreamKey } from "../domain/event.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { ProofDeps } from "./ports.js";

export interface SyncState {
  readonly stream: StreamKey;
  readonly head: bigint;
  readonly sealedEnd: bigint;
  /** The latest commitment's new_state_root; 32 zero bytes before the first. */
  readonly stateRoot: Uint8Array;
  readonly latest: Commitment | undefined;
}

export async function getSyncState(deps: ProofDeps, tenantId: string, storeId: string): Promise<SyncState> {
  const stream = parseStreamKey(tenantId, storeId);
  const { head, latest } = await deps.commitments.syncState(stream);
  return {
    stream,
    head,
    sealedEnd: latest?.sequenceEnd ?? 0n,
    stateRoot: latest?.newStateRoot ?? ZERO32,
    latest,
  };
}

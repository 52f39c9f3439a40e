// Two sequencers beside one anvil chain with the VesAnchor contract: one anchors to it, one does not (its
// commitments seal quickly but never get an anchor). A block every 100 ms on top of automine, so anchors get
// ANCHOR_CONFIRMATIONS (3) deep quickly. Each sequencer has a database of its own.
import type { Sequencer } from "../../src/main.js";
import { type AnchorChainFixture, anchorEnv, startAnchorChain } from "./anvil.js";
import { createTestDatabase } from "./db.js";
import { startTestSequencer } from "./sequencer.js";

export interface AnchoredPair {
  readonly fx: AnchorChainFixture;
  /** Anchors its commitments to `fx`'s contract. */
  readonly anchoring: Sequencer;
  /** Seals commitments as fast as `anchoring`, without anchoring. */
  readonly plain: Sequencer;
  stop(): Promise<void>;
}

export async function startAnchoredPair(): Promise<AnchoredPair> {
  const [a, b, fx] = await Promise.all([createTestDatabase(), createTestDatabase(), startAnchorChain()]);
  const miner = setInterval(() => void fx.rpc("evm_mine").catch(() => {}), 100);
  const started = await Promise.allSettled([
    startTestSequencer(a.url, anchorEnv(fx)),
    startTestSequencer(b.url, { COMMIT_MAX_EVENTS: "4", COMMIT_MAX_AGE_MS: "50", COMMIT_POLL_MS: "20" }),
  ]);
  const stop = async (): Promise<void> => {
    clearInterval(miner);
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : undefined)));
    await fx.stop();
    await Promise.all([a.drop(), b.drop()]);
  };
  const [anchoring, plain] = started;
  if (anchoring?.status !== "fulfilled" || plain?.status !== "fulfilled") {
    await stop();
    throw started.find((s) => s.status === "rejected")?.reason;
  }
  return { fx, anchoring: anchoring.value, plain: plain.value, stop };
}

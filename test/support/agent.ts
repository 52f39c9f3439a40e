// A test agent: an Ed25519 key registered with the sequencer, and helpers to sign events with it.
import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { proofOfPossession } from "../../src/client/proofOfPossession.js";
import { type SignedEvent, signEvent, type UnsignedEvent } from "../../src/client/signEvent.js";
import { nativeSha256, sodiumEd25519 } from "../../src/crypto/native.js";
import { TEST_ADMIN_KEY } from "./sequencer.js";

export const serverCrypto = { sha256: nativeSha256, ed25519: sodiumEd25519 };

export interface TestAgent {
  readonly tenantId: string;
  readonly storeId: string;
  readonly agentId: string;
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  /** The 32-byte Ed25519 seed, for tests that hand the key to another process. */
  readonly seed: Uint8Array;
  readonly sign: (m: Uint8Array) => Uint8Array;
  event(overrides?: Partial<UnsignedEvent>): SignedEvent;
}

export function createAgent(
  opts: { tenantId?: string; storeId?: string; agentId?: string; keyId?: number } = {},
): TestAgent {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const sign = sodiumEd25519.createSigner(seed);
  const agent = {
    tenantId: opts.tenantId ?? randomUUID(),
    storeId: opts.storeId ?? randomUUID(),
    agentId: opts.agentId ?? randomUUID(),
    keyId: opts.keyId ?? 1,
    publicKey: sodiumEd25519.getPublicKey(seed),
    seed,
    sign,
  };
  let n = 0;
  return {
    ...agent,
    event(overrides = {}) {
      n++;
      return signEvent(
        {
          tenantId: agent.tenantId,
          storeId: agent.storeId,
          sourceAgentId: agent.agentId,
          agentKeyId: agent.keyId,
          entityType: "order",
          entityId: `order-${n}`,
          eventType: "order.created",
          payload: { n, amount: 100 * n, currency: "USD" },
          ...overrides,
        },
        { sign },
        serverCrypto,
      );
    },
  };
}

export async function registerAgent(
  keys: Client<typeof KeyRegistryService>,
  agent: TestAgent,
  extra: { validFrom?: Date; validTo?: Date } = {},
): Promise<void> {
  const { timestampFromDate } = await import("@bufbuild/protobuf/wkt");
  await keys.registerAgentKey({
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    publicKey: agent.publicKey,
    proofOfPossession: proofOfPossession(agent.publicKey, { sign: agent.sign }, serverCrypto),
    ...(extra.validFrom === undefined ? {} : { validFrom: timestampFromDate(extra.validFrom) }),
    ...(extra.validTo === undefined ? {} : { validTo: timestampFromDate(extra.validTo) }),
  });
}

/**
 * The options of an SDK producer (createAgent) appending as `a` on its stream, with the bootstrap admin key as its
 * credential and `sequencerKey` pinned.
 */
export function producerOptions(a: TestAgent, sequencerKey: Uint8Array | readonly Uint8Array[]) {
  return {
    credential: TEST_ADMIN_KEY,
    signer: { sign: a.sign },
    tenantId: a.tenantId,
    storeId: a.storeId,
    sourceAgentId: a.agentId,
    agentKeyId: a.keyId,
    sequencerKey,
  };
}

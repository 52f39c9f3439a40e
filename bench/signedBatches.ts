// Shared by the benches: streams with a registered agent key, and signed events pre-encoded as AppendRequest
// messages, so nothing is signed or encoded inside a timed window.
import { randomUUID } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { AppendRequestSchema } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { proofOfPossession } from "../src/client/proofOfPossession.js";
import { type SignedEvent, signEvent } from "../src/client/signEvent.js";
import { signedEventToProto } from "../src/client/toProto.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import { progress } from "./support.js";

export const benchCrypto = { sha256: nativeSha256, ed25519: sodiumEd25519 };

export interface BenchStream {
  tenantId: string;
  storeId: string;
  agentId: string;
  sign: (m: Uint8Array) => Uint8Array;
  publicKey: Uint8Array;
}

export function makeStream(): BenchStream {
  const seed = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return {
    tenantId: randomUUID(),
    storeId: randomUUID(),
    agentId: randomUUID(),
    sign: sodiumEd25519.createSigner(seed),
    publicKey: sodiumEd25519.getPublicKey(seed),
  };
}

export async function registerStreams(
  keys: Client<typeof KeyRegistryService>,
  streams: readonly BenchStream[],
): Promise<void> {
  for (const s of streams) {
    await keys.registerAgentKey({
      tenantId: s.tenantId,
      agentId: s.agentId,
      keyId: 1,
      publicKey: s.publicKey,
      proofOfPossession: proofOfPossession(s.publicKey, { sign: s.sign }, benchCrypto),
    });
  }
}

export interface Prepared {
  signed: SignedEvent[];
  /** Per stream, the encoded AppendRequest messages in order. */
  requests: Uint8Array[][];
}

/** About `total` events (a whole number of batches per stream), signed and encoded in batches of `batch`. */
export function prepare(
  streams: BenchStream[],
  total: number,
  batch: number,
  label: string,
  opts: { receiptUpgrades?: boolean } = {},
): Prepared {
  const perStream = Math.max(1, Math.ceil(total / streams.length / batch)) * batch;
  const signed: SignedEvent[] = [];
  const requests: Uint8Array[][] = streams.map(() => []);
  const bar = progress(`signing and encoding ${label}`, perStream * streams.length);
  for (const [si, s] of streams.entries()) {
    let events = [];
    for (let i = 0; i < perStream; i++) {
      const e = signEvent(
        {
          tenantId: s.tenantId,
          storeId: s.storeId,
          sourceAgentId: s.agentId,
          agentKeyId: 1,
          entityType: "order",
          entityId: `order-${i % 5000}`,
          eventType: "order.updated",
          payload: {
            orderId: `ORD-${i}`,
            amount: i * 7,
            currency: "USD",
            lines: [{ sku: "WIDGET-001", qty: 1 + (i % 9), price: 1999 }],
            note: "bench payload of a typical order update, about three hundred bytes of JSON in all",
          },
        },
        { sign: s.sign },
        benchCrypto,
      );
      signed.push(e);
      events.push(signedEventToProto(e));
      if (events.length === batch) {
        (requests[si] as Uint8Array[]).push(
          toBinary(AppendRequestSchema, {
            $typeName: "ves.sequencer.v1.AppendRequest",
            batchId: randomUUID(),
            events,
            receiptUpgrades: opts.receiptUpgrades ?? false,
            anchorUpgrades: false,
          }),
        );
        events = [];
      }
      bar.tick();
    }
  }
  bar.done();
  return { signed, requests };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

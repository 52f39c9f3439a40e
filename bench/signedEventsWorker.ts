// Worker thread of bench/signedEvents.ts: signs chunks of events (agent signature) and their receipts (sequencer
// signature), exactly as an agent and the sequencer would.
import { parentPort, workerData } from "node:worker_threads";
import { signEvent } from "../src/client/signEvent.js";
import { nativeSha256, sodiumEd25519 } from "../src/crypto/native.js";
import { receiptHash } from "../src/crypto/receiptHash.js";
import type { GeneratedEvent, StreamSpec } from "./signedEvents.js";

const spec = workerData as StreamSpec & { __entry: string };
const agentSign = sodiumEd25519.createSigner(spec.agentSeed);
const sequencerSign = sodiumEd25519.createSigner(spec.sequencerSeed);
const crypto = { sha256: nativeSha256, ed25519: sodiumEd25519 };
const note = "catch-up bench payload: a typical order update of about three hundred bytes of JSON in all";

parentPort?.on("message", (task: { id: number; start: number; count: number }) => {
  const out: GeneratedEvent[] = [];
  const createdAt = new Date(Date.UTC(2026, 0, 1) + task.start).toISOString();
  for (let seq = task.start; seq < task.start + task.count; seq++) {
    const entity = seq % spec.entities;
    const e = signEvent(
      {
        tenantId: spec.tenantId,
        storeId: spec.storeId,
        sourceAgentId: spec.agentId,
        agentKeyId: 1,
        entityType: "order",
        entityId: `order-${entity}`,
        eventType: "order.updated",
        createdAt,
        payload: {
          orderId: `ORD-${seq}`,
          amount: seq * 7,
          currency: "USD",
          lines: [{ sku: "WIDGET-001", qty: 1 + (seq % 9), price: 1999 }],
          note,
        },
      },
      { sign: agentSign },
      crypto,
    );
    const rh = receiptHash(nativeSha256, {
      tenantId: spec.tenantId,
      storeId: spec.storeId,
      eventId: e.eventId,
      sequenceNumber: BigInt(seq),
      eventSigningHash: e.signingHash,
    });
    out.push({
      eventId: e.eventId,
      entityId: `order-${entity}`,
      entityVersion: Math.floor((seq - 1) / spec.entities) + 1,
      createdAt,
      payload: e.payload,
      payloadPlainHash: e.payloadPlainHash,
      agentSignature: e.agentSignature,
      signingHash: e.signingHash,
      receiptHash: rh,
      sequencerSignature: sequencerSign(rh),
    });
  }
  parentPort?.postMessage({ id: task.id, events: out });
});

// Use case: sequence one batch of signed VES events and sign a receipt for each accepted one
// (docs/protocol.md §1.2, §2.4, §4, §16.6).
import { isUuid } from "../crypto/bytes.js";
import { agentKeyRef } from "../domain/agentKey.js";
import { checkBatch } from "../domain/checkBatch.js";
import { type Decision, decideBatch, entityKey, type VerifiedEvent } from "../domain/decideBatch.js";
import { DomainError } from "../domain/errors.js";
import type { EventInput, Receipt, StoredEvent, StreamKey } from "../domain/event.js";
import type { Rejection } from "../domain/rejection.js";
import { type CheckResult, validateEvent } from "../domain/validateEvent.js";
import type { AgentKeyRef, AppendDeps, SequencingSpan, StreamQuery } from "./ports.js";

export interface EventOutcome {
  readonly eventId: string;
  readonly receipt: Receipt | undefined;
  readonly rejection: Rejection | undefined;
  readonly replayed: boolean;
}

export interface BatchOutcome {
  readonly batchId: string;
  readonly stream: StreamKey;
  readonly results: readonly EventOutcome[];
  readonly head: bigint;
  readonly accepted: number;
  readonly replayed: number;
  readonly rejected: number;
}

const MAX_ATTEMPTS = 3;

/** Everything about a batch that can be worked out before taking the stream lock. */
export interface PreparedBatch {
  readonly batchId: string;
  readonly stream: StreamKey;
  readonly eventIds: readonly string[];
  readonly checks: readonly CheckResult[];
  readonly verified: readonly (VerifiedEvent | undefined)[];
  readonly query: StreamQuery;
}

/**
 * Checks a batch and runs its crypto (payload hashes, signing hashes, signatures). Needs no lock, so the
 * Append stream prepares the next batches while an earlier one is being sequenced.
 */
export async function prepareBatch(
  deps: AppendDeps,
  batchId: string,
  events: readonly EventInput[],
): Promise<PreparedBatch> {
  const stream = checkBatch(batchId, events, deps.limits);
  const checks = events.map((e, i) => validateEvent(e, i, deps.limits, deps.sha256));

  const refs = new Map<string, AgentKeyRef>();
  const entities = new Map<string, { entityType: string; entityId: string }>();
  const commandIds: string[] = [];
  for (const c of checks) {
    if (!c.ok) continue;
    const e = c.event;
    refs.set(agentKeyRef(e.sourceAgentId, e.agentKeyId), { agentId: e.sourceAgentId, keyId: e.agentKeyId });
    entities.set(entityKey(e.entityType, e.entityId), { entityType: e.entityType, entityId: e.entityId });
    if (e.commandId !== undefined) commandIds.push(e.commandId);
  }
  const publicKeys = await deps.keys.publicKeys(stream.tenantId, [...refs.values()]);
  const okEvents = checks.flatMap((c) => (c.ok ? [c.event] : []));
  const results = await deps.verifier.verify(
    okEvents.map((event) => ({
      event,
      publicKey: publicKeys.get(agentKeyRef(event.sourceAgentId, event.agentKeyId)),
    })),
  );
  const verified: (VerifiedEvent | undefined)[] = new Array(events.length).fill(undefined);
  for (const [j, event] of okEvents.entries()) verified[event.index] = results[j];

  const eventIds = events.map((e) => e.eventId);
  return {
    batchId,
    stream,
    eventIds,
    checks,
    verified,
    query: {
      eventIds: [...new Set(eventIds.filter(isUuid).map((id) => id.toLowerCase()))],
      commandIds,
      entities: [...entities.values()],
      keyRefs: [...refs.values()],
    },
  };
}

function toStored(d: Extract<Decision, { kind: "accept" }>, receipt: Receipt): StoredEvent {
  const e = d.event;
  return {
    vesVersion: e.vesVersion,
    eventId: e.eventId,
    tenantId: e.tenantId,
    storeId: e.storeId,
    sourceAgentId: e.sourceAgentId,
    agentKeyId: e.agentKeyId,
    entityType: e.entityType,
    entityId: e.entityId,
    eventType: e.eventType,
    createdAt: e.createdAt,
    payloadKind: e.payloadKind,
    payload: e.payload,
    payloadEncrypted: e.payloadEncrypted,
    payloadPlainHash: d.verified.plainHash,
    payloadCipherHash: e.payloadCipherHash,
    agentSignature: e.agentSignature,
    agentSignatureScheme: e.agentSignatureScheme,
    commandId: e.commandId,
    baseVersion: e.baseVersion,
    entityVersion: d.entityVersion,
    receipt,
  };
}

/** Sequences a prepared batch in one transaction: dedupe, key status, command ids, base_version, receipts. */
export async function sequenceBatch(deps: AppendDeps, batch: PreparedBatch): Promise<BatchOutcome> {
  if (deps.tracer === undefined) return sequenceWithRetries(deps, batch, undefined);
  const span = deps.tracer.start(batch.stream, batch.eventIds.length);
  try {
    const outcome = await sequenceWithRetries(deps, batch, span);
    span.end(outcome);
    return outcome;
  } catch (err) {
    span.end(undefined, err);
    throw err;
  }
}

async function sequenceWithRetries(
  deps: AppendDeps,
  batch: PreparedBatch,
  span: SequencingSpan | undefined,
): Promise<BatchOutcome> {
  const { stream } = batch;
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.log.sequence(stream, batch.query, async (locked, write) => {
        // The database's clock, read under the stream and key locks: key status and sequenced_at share it.
        const { now } = locked;
        const decisions = decideBatch(stream, batch.checks, batch.verified, batch.eventIds, {
          ...locked,
          now,
        });
        const accepted = decisions.filter(
          (d): d is Extract<Decision, { kind: "accept" }> => d.kind === "accept",
        );
        const receipts = new Map<number, Receipt>();
        let head = locked.head;
        if (accepted.length > 0) {
          const signed = await deps.signer.signReceipts(
            stream,
            accepted.map((d) => ({
              eventId: d.event.eventId,
              sequenceNumber: d.sequenceNumber,
              eventSigningHash: d.verified.signingHash,
            })),
          );
          const rows = accepted.map((d, j) => {
            const receipt: Receipt = {
              sequencerId: deps.signer.sequencerId,
              sequencerKeyId: deps.signer.keyId,
              tenantId: stream.tenantId,
              storeId: stream.storeId,
              eventId: d.event.eventId,
              sequenceNumber: d.sequenceNumber,
              sequencedAt: now,
              eventSigningHash: d.verified.signingHash,
              receiptHash: (signed[j] as (typeof signed)[number]).receiptHash,
              sequencerSignature: (signed[j] as (typeof signed)[number]).signature,
            };
            receipts.set(d.event.index, receipt);
            return toStored(d, receipt);
          });
          head = (accepted[accepted.length - 1] as (typeof accepted)[number]).sequenceNumber;
          await write(rows, head);
        }
        let replayed = 0;
        let rejected = 0;
        const results = decisions.map((d, i): EventOutcome => {
          switch (d.kind) {
            case "accept":
              return {
                eventId: d.event.eventId,
                receipt: receipts.get(i),
                rejection: undefined,
                replayed: false,
              };
            case "replay":
              replayed++;
              return { eventId: d.eventId, receipt: d.receipt, rejection: undefined, replayed: true };
            default:
              rejected++;
              return { eventId: d.eventId, receipt: undefined, rejection: d.rejection, replayed: false };
          }
        });
        return {
          batchId: batch.batchId,
          stream,
          results,
          head,
          accepted: accepted.length,
          replayed,
          rejected,
        };
      });
    } catch (err) {
      if (err instanceof DomainError && err.reason === "aborted" && attempt < MAX_ATTEMPTS) {
        span?.retry(err);
        continue;
      }
      throw err;
    }
  }
}

/** prepareBatch then sequenceBatch. */
export async function appendBatch(
  deps: AppendDeps,
  batchId: string,
  events: readonly EventInput[],
): Promise<BatchOutcome> {
  return sequenceBatch(deps, await prepareBatch(deps, batchId, events));
}

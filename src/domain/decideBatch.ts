// Decides, per event in request order, replay, rejection or acceptance, following the order of
// docs/protocol.md §4 (dedupe first, then §1.2 validation, then command ids and base_version) with §16.6.
import { equalBytes } from "../crypto/bytes.js";
import { type AgentKeyValidity, agentKeyRef, keyStatusAt } from "./agentKey.js";
import type { CheckedEvent, Receipt, StreamKey } from "./event.js";
import { type Rejection, reject } from "./rejection.js";
import type { CheckResult } from "./validateEvent.js";

/** What the crypto stage found for a statically valid event. */
export interface VerifiedEvent {
  /** H(signing preimage) over the hashes as sent (or as computed when the client left them empty). */
  readonly signingHash: Uint8Array;
  /** The payload plain hash the event is signed with. */
  readonly plainHash: Uint8Array;
  /** A payload problem (bad JSON, hash mismatch), found before the key and signature checks. */
  readonly payloadProblem: Rejection | undefined;
  /** undefined when no public key was known for the event's key id. */
  readonly signatureValid: boolean | undefined;
}

/** What the log already holds for an event id (any stream). */
export interface ExistingEvent {
  readonly tenantId: string;
  readonly storeId: string;
  readonly signingHash: Uint8Array;
  readonly agentSignature: Uint8Array;
  readonly commandId: string | undefined;
  readonly baseVersion: bigint | undefined;
  readonly receipt: Receipt;
}

/** State read under the stream lock. */
export interface StreamState {
  readonly head: bigint;
  readonly existing: ReadonlyMap<string, ExistingEvent>;
  /** command_id → event_id of the event that used it in this stream. */
  readonly commands: ReadonlyMap<string, string>;
  /** entityKey(type, id) → current version (absent = 0). */
  readonly entityVersions: ReadonlyMap<string, bigint>;
  /** agentKeyRef(agent, keyId) → lifecycle; absent = not registered. */
  readonly keys: ReadonlyMap<string, AgentKeyValidity>;
  readonly now: Date;
}

export type Decision =
  | {
      readonly kind: "accept";
      readonly event: CheckedEvent;
      readonly verified: VerifiedEvent;
      readonly sequenceNumber: bigint;
      readonly entityVersion: bigint;
    }
  | { readonly kind: "replay"; readonly eventId: string; readonly receipt: Receipt }
  | { readonly kind: "reject"; readonly eventId: string; readonly rejection: Rejection };

export function entityKey(entityType: string, entityId: string): string {
  return `${entityType.length}:${entityType}/${entityId}`;
}

/** How a same-stream event differs from the stored one with its id. */
function describeDifference(e: CheckedEvent, v: VerifiedEvent, x: ExistingEvent): string {
  if (!equalBytes(x.signingHash, v.signingHash)) return "its signed contents differ from the sequenced event";
  if (!equalBytes(x.agentSignature, e.agentSignature))
    return "its signature differs from the sequenced event";
  if (x.commandId !== e.commandId) return "its command_id differs from the sequenced event";
  return "its base_version differs from the sequenced event";
}

const KEY_PROBLEMS = {
  revoked: ["key_revoked", "is revoked"],
  not_yet_valid: ["key_not_yet_valid", "is not yet valid"],
  expired: ["key_expired", "has expired"],
} as const;

/**
 * One decision per input, in order. `checks[i]` is the static check of event i; `verified[i]` is present for
 * every statically valid event. Sequence numbers continue from `state.head` with no gaps.
 */
export function decideBatch(
  stream: StreamKey,
  checks: readonly CheckResult[],
  verified: readonly (VerifiedEvent | undefined)[],
  eventIds: readonly string[],
  state: StreamState,
): Decision[] {
  const decisions: Decision[] = [];
  const seenIds = new Set<string>();
  const batchCommands = new Set<string>();
  const versions = new Map(state.entityVersions);
  let next = state.head;

  for (const [i, check] of checks.entries()) {
    const eventId = (eventIds[i] ?? "").toLowerCase();
    const rejectWith = (rejection: Rejection): void => {
      decisions.push({ kind: "reject", eventId, rejection });
    };
    if (seenIds.has(eventId)) {
      rejectWith(
        reject("duplicate_event_id", `"event_id" ${eventId} appears more than once in the batch`, {
          field: "event_id",
          actual: eventId,
        }),
      );
      continue;
    }
    seenIds.add(eventId);

    const existing = state.existing.get(eventId);
    const v = verified[i];
    if (existing !== undefined) {
      if (
        check.ok &&
        v !== undefined &&
        existing.tenantId === stream.tenantId &&
        existing.storeId === stream.storeId &&
        equalBytes(existing.signingHash, v.signingHash) &&
        equalBytes(existing.agentSignature, check.event.agentSignature) &&
        existing.commandId === check.event.commandId &&
        existing.baseVersion === check.event.baseVersion
      ) {
        decisions.push({ kind: "replay", eventId, receipt: existing.receipt });
      } else {
        // Another stream's event: say only that the id is taken, never whose it is (tenant isolation, §16.9).
        const sameStream = existing.tenantId === stream.tenantId && existing.storeId === stream.storeId;
        const why = !sameStream
          ? ""
          : check.ok && v !== undefined
            ? `: ${describeDifference(check.event, v, existing)}`
            : ": it differs";
        rejectWith(
          reject("event_id_conflict", `"event_id" ${eventId} is already used${why}`, {
            field: "event_id",
            actual: eventId,
          }),
        );
      }
      continue;
    }
    if (!check.ok) {
      rejectWith(check.rejection);
      continue;
    }
    const e = check.event;
    if (v === undefined) throw new TypeError(`event ${i} passed validation but was not verified`);
    if (v.payloadProblem !== undefined) {
      rejectWith(v.payloadProblem);
      continue;
    }
    const key = state.keys.get(agentKeyRef(e.sourceAgentId, e.agentKeyId));
    const keyName = `agent key ${e.agentKeyId} of agent ${e.sourceAgentId}`;
    if (key === undefined || v.signatureValid === undefined) {
      rejectWith(
        reject(
          "unknown_key",
          `Agent key not found: no ${keyName} is registered in tenant ${stream.tenantId}`,
          {
            field: "agent_key_id",
            actual: `${e.agentKeyId}`,
          },
        ),
      );
      continue;
    }
    const status = keyStatusAt(key, state.now);
    if (status !== "active") {
      const [reason, text] = KEY_PROBLEMS[status];
      rejectWith(
        reject(reason, `The ${keyName} ${text} at ${state.now.toISOString()}`, { field: "agent_key_id" }),
      );
      continue;
    }
    if (!v.signatureValid) {
      rejectWith(
        reject(
          "invalid_signature",
          `"agent_signature" does not verify against ${keyName} for the signing hash`,
          {
            field: "agent_signature",
          },
        ),
      );
      continue;
    }
    if (e.commandId !== undefined) {
      const owner = state.commands.get(e.commandId);
      if (batchCommands.has(e.commandId) || (owner !== undefined && owner !== e.eventId)) {
        rejectWith(
          reject("duplicate_command_id", `"command_id" ${e.commandId} was already processed in this stream`, {
            field: "command_id",
            actual: e.commandId,
          }),
        );
        continue;
      }
    }
    const ek = entityKey(e.entityType, e.entityId);
    const current = versions.get(ek) ?? 0n;
    if (e.baseVersion !== undefined && e.baseVersion !== current) {
      rejectWith(
        reject(
          "version_conflict",
          `"base_version" ${e.baseVersion} does not match the entity's current version ${current}`,
          // As the reference: expected = the client's base_version, actual = the entity's current version.
          { field: "base_version", expected: `${e.baseVersion}`, actual: `${current}` },
        ),
      );
      continue;
    }
    if (e.commandId !== undefined) batchCommands.add(e.commandId);
    versions.set(ek, current + 1n);
    next += 1n;
    decisions.push({
      kind: "accept",
      event: e,
      verified: v,
      sequenceNumber: next,
      entityVersion: current + 1n,
    });
  }
  return decisions;
}

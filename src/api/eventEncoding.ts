// SequencedEvent (proto/ves/sequencer/v1/event.proto) in protobuf wire format, written directly and at most once
// per event. A live event goes out to every subscriber of its stream, and protobuf-es's toBinary cost more per
// event than the rest of the read path together. The bytes travel as unknown fields of the response message,
// which protobuf-es writes verbatim: on the wire they are the ordinary `repeated SequencedEvent events` field.
// Field order and presence follow protobuf-es exactly, so the bytes equal toBinary's (eventEncoding.test.ts).

import type { UnknownField } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { SequencedEventSchema } from "../../gen/ves/sequencer/v1/event_pb.js";
import type { StoredEvent } from "../domain/event.js";
import { sequencedEventToProto } from "./convert.js";

const SIGNATURE_ALG = "ed25519";

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** UTF-8 length, with a fast path for ASCII (UUIDs, type names, timestamps). */
function utf8Size(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, "utf8");
  return s.length;
}

/** Size of a length-delimited field with a one-byte tag (field numbers 1..15). */
const delimited = (len: number): number => 1 + varintSize(len) + len;

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  /** Tag of a field number <= 15 (one byte). */
  tag(no: number, wireType: number): void {
    this.buf[this.pos++] = (no << 3) | wireType;
  }

  string(no: number, s: string, size: number): void {
    if (size === 0) return;
    this.varint((no << 3) | 2);
    this.varint(size);
    if (size === s.length) {
      for (let i = 0; i < size; i++) this.buf[this.pos + i] = s.charCodeAt(i);
      this.pos += size;
    } else {
      this.pos += this.buf.write(s, this.pos, size, "utf8");
    }
  }

  bytes(no: number, b: Uint8Array): void {
    if (b.length === 0) return;
    this.varint((no << 3) | 2);
    this.varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  uint(no: number, n: number): void {
    if (n === 0) return;
    this.varint(no << 3);
    this.varint(n);
  }
}

const tagSize = (no: number): number => (no < 16 ? 1 : 2);
const stringField = (no: number, size: number): number =>
  size === 0 ? 0 : tagSize(no) + varintSize(size) + size;
const bytesField = (no: number, b: Uint8Array): number =>
  b.length === 0 ? 0 : tagSize(no) + varintSize(b.length) + b.length;
const uintField = (no: number, n: number): number => (n === 0 ? 0 : tagSize(no) + varintSize(n));

/** protobuf-es's encoding, for what the direct writer does not cover (encrypted payloads, odd numbers). */
function encodeWithReflection(e: StoredEvent): Uint8Array {
  const body = toBinary(SequencedEventSchema, sequencedEventToProto(e));
  const out = Buffer.allocUnsafe(varintSize(body.length) + body.length);
  const w = new Writer(out);
  w.varint(body.length);
  out.set(body, w.pos);
  return out;
}

/**
 * The event as the data of a length-delimited unknown field: varint(length) ‖ SequencedEvent bytes.
 * Not cached; see `encodedEvent`.
 */
export function encodeSequencedEvent(e: StoredEvent): Uint8Array {
  const r = e.receipt;
  const ms = r.sequencedAt.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  const sequence = r.sequenceNumber;
  const version = e.entityVersion;
  if (
    e.payloadEncrypted !== undefined ||
    seconds < 0 ||
    sequence > BigInt(Number.MAX_SAFE_INTEGER) ||
    version > BigInt(Number.MAX_SAFE_INTEGER) ||
    (e.baseVersion !== undefined && (e.baseVersion < 0n || e.baseVersion > BigInt(Number.MAX_SAFE_INTEGER)))
  ) {
    return encodeWithReflection(e);
  }
  const seq = Number(sequence);
  const entityVersion = Number(version);

  // Event (field 1).
  const s2 = utf8Size(e.eventId);
  const s3 = utf8Size(e.tenantId);
  const s4 = utf8Size(e.storeId);
  const s5 = utf8Size(e.sourceAgentId);
  const s7 = utf8Size(e.entityType);
  const s8 = utf8Size(e.entityId);
  const s9 = utf8Size(e.eventType);
  const s10 = utf8Size(e.createdAt);
  const payload = e.payload ?? new Uint8Array(0);
  const payloadKind = e.payloadKind === 0 ? 1 : 2; // PayloadKind enum: PLAINTEXT = 1, ENCRYPTED = 2
  const s18 = e.commandId === undefined ? -1 : utf8Size(e.commandId);
  const baseVersion = e.baseVersion === undefined ? -1 : Number(e.baseVersion);
  const eventSize =
    uintField(1, e.vesVersion) +
    stringField(2, s2) +
    stringField(3, s3) +
    stringField(4, s4) +
    stringField(5, s5) +
    uintField(6, e.agentKeyId) +
    stringField(7, s7) +
    stringField(8, s8) +
    stringField(9, s9) +
    stringField(10, s10) +
    uintField(11, payloadKind) +
    bytesField(12, payload) +
    bytesField(14, e.payloadPlainHash) +
    bytesField(15, e.payloadCipherHash) +
    bytesField(16, e.agentSignature) +
    uintField(17, e.agentSignatureScheme) +
    (s18 < 0 ? 0 : 2 + varintSize(s18) + s18) +
    (baseVersion < 0 ? 0 : 2 + varintSize(baseVersion));

  // Receipt (field 2) with its Timestamp (field 7).
  const r1 = utf8Size(r.sequencerId);
  const r2 = utf8Size(r.sequencerKeyId);
  const r3 = utf8Size(r.tenantId);
  const r4 = utf8Size(r.storeId);
  const r5 = utf8Size(r.eventId);
  const timestampSize = uintField(1, seconds) + uintField(2, nanos);
  const receiptSize =
    stringField(1, r1) +
    stringField(2, r2) +
    stringField(3, r3) +
    stringField(4, r4) +
    stringField(5, r5) +
    uintField(6, seq) +
    delimited(timestampSize) +
    bytesField(8, r.eventSigningHash) +
    bytesField(9, r.receiptHash) +
    bytesField(10, r.sequencerSignature) +
    stringField(11, SIGNATURE_ALG.length);

  const messageSize = delimited(eventSize) + delimited(receiptSize) + uintField(3, entityVersion);
  const out = Buffer.allocUnsafe(varintSize(messageSize) + messageSize);
  const w = new Writer(out);
  w.varint(messageSize);

  w.tag(1, 2);
  w.varint(eventSize);
  w.uint(1, e.vesVersion);
  w.string(2, e.eventId, s2);
  w.string(3, e.tenantId, s3);
  w.string(4, e.storeId, s4);
  w.string(5, e.sourceAgentId, s5);
  w.uint(6, e.agentKeyId);
  w.string(7, e.entityType, s7);
  w.string(8, e.entityId, s8);
  w.string(9, e.eventType, s9);
  w.string(10, e.createdAt, s10);
  w.uint(11, payloadKind);
  w.bytes(12, payload);
  w.bytes(14, e.payloadPlainHash);
  w.bytes(15, e.payloadCipherHash);
  w.bytes(16, e.agentSignature);
  w.uint(17, e.agentSignatureScheme);
  if (e.commandId !== undefined) {
    // Present even when empty (proto3 `optional`).
    w.varint((18 << 3) | 2);
    w.varint(s18);
    if (s18 > 0) w.pos += out.write(e.commandId, w.pos, s18, "utf8");
  }
  if (baseVersion >= 0) {
    w.varint(19 << 3);
    w.varint(baseVersion);
  }

  w.tag(2, 2);
  w.varint(receiptSize);
  w.string(1, r.sequencerId, r1);
  w.string(2, r.sequencerKeyId, r2);
  w.string(3, r.tenantId, r3);
  w.string(4, r.storeId, r4);
  w.string(5, r.eventId, r5);
  w.uint(6, seq);
  w.tag(7, 2);
  w.varint(timestampSize);
  w.uint(1, seconds);
  w.uint(2, nanos);
  w.bytes(8, r.eventSigningHash);
  w.bytes(9, r.receiptHash);
  w.bytes(10, r.sequencerSignature);
  w.string(11, SIGNATURE_ALG, SIGNATURE_ALG.length);

  w.uint(3, entityVersion);
  if (w.pos !== out.length)
    throw new Error(`SequencedEvent encoder wrote ${w.pos} bytes, expected ${out.length}`);
  return out;
}

// Live events are shared by every subscriber of a stream (the hub reads each once), so each is encoded once.
const cache = new WeakMap<StoredEvent, Uint8Array>();

export function encodedEvent(e: StoredEvent): Uint8Array {
  let bytes = cache.get(e);
  if (bytes === undefined) {
    bytes = encodeSequencedEvent(e);
    cache.set(e, bytes);
  }
  return bytes;
}

/**
 * The events as the `$unknown` of a message whose field `no` is `repeated SequencedEvent`: one entry whose data
 * is every event joined with the field's tag between them (protobuf-es writes the first tag), so writing the
 * message costs one copy, not an allocation per event. `shared`: the events are the hub's live events, which
 * every subscriber of the stream sends, so their encoding is cached; events read for one reader are not.
 */
export function eventsAsUnknownFields(
  no: number,
  events: readonly StoredEvent[],
  shared: boolean,
): UnknownField[] {
  if (events.length === 0) return [];
  const parts: Uint8Array[] = new Array(events.length);
  let total = events.length - 1; // a one-byte tag before every event but the first
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    const bytes = shared ? encodedEvent(e) : encodeSequencedEvent(e);
    parts[i] = bytes;
    total += bytes.length;
  }
  const data = Buffer.allocUnsafe(total);
  const tag = (no << 3) | WireType.LengthDelimited;
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) data[pos++] = tag;
    const p = parts[i] as Uint8Array;
    data.set(p, pos);
    pos += p.length;
  }
  return [{ no, wireType: WireType.LengthDelimited, data }];
}

interface JoinedRun {
  readonly count: number;
  readonly next: bigint;
  readonly field: UnknownField;
}

// The last message built for a live run, by its first event: the subscribers of a stream that keep up all send
// the same run (the hub pushes each run to all of them), so its bytes are built once and shared.
const runs = new WeakMap<StoredEvent, JoinedRun>();

/**
 * A whole `SubscriptionEvents { events, next_sequence }` message as the unknown field `no` of the response that
 * carries it (SubscribeResponse.events = 1, AppendResponse.events = 3): protobuf-es then writes it with one copy
 * and no nested length bookkeeping. `shared`: live events, whose bytes are cached per event and per run.
 */
export function subscriptionEventsField(
  no: number,
  events: readonly StoredEvent[],
  nextSequence: bigint,
  shared: boolean,
): UnknownField {
  const first = events[0];
  if (shared && first !== undefined) {
    const cached = runs.get(first);
    if (
      cached !== undefined &&
      cached.count === events.length &&
      cached.next === nextSequence &&
      cached.field.no === no
    ) {
      return cached.field;
    }
  }
  const parts: Uint8Array[] = new Array(events.length);
  let body = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    const bytes = shared ? encodedEvent(e) : encodeSequencedEvent(e);
    parts[i] = bytes;
    body += 1 + bytes.length; // tag of SubscriptionEvents.events (1) + length-prefixed event
  }
  const next = Number(nextSequence);
  const nextBytes = nextSequence === 0n ? 0 : 1 + varintSize(next);
  body += nextBytes;
  const out = Buffer.allocUnsafe(varintSize(body) + body);
  const w = new Writer(out);
  w.varint(body);
  for (const p of parts) {
    out[w.pos++] = (1 << 3) | WireType.LengthDelimited;
    out.set(p, w.pos);
    w.pos += p.length;
  }
  w.uint(2, next);
  const field: UnknownField = { no, wireType: WireType.LengthDelimited, data: out };
  if (shared && first !== undefined) runs.set(first, { count: events.length, next: nextSequence, field });
  return field;
}

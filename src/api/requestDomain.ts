// Every request message checked against the database's domain (domain/dbDomain.ts) before any service code
// runs: each string is text PostgreSQL can hold and of bounded length, each 64-bit integer fits a bigint, each
// Timestamp lies within the years PostgreSQL accepts. Walks the message by its descriptor, so a field added
// to the proto is covered without a line here. Events are left to validateEvent, which rejects one event
// alone; a batch id to checkBatch, which fails one batch of a stream alone.
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { assertDbBigint, assertDbText, DB_TIME_MAX, DB_TIME_MIN, DB_TIME_RANGE } from "../domain/dbDomain.js";
import { invalidField } from "../domain/errors.js";

/** Messages and fields checked by the domain with a finer answer than a failed call. */
const PER_EVENT_MESSAGES = new Set(["ves.sequencer.v1.Event"]);
const PER_BATCH_FIELDS = new Set([
  "ves.sequencer.v1.AppendRequest.batch_id",
  "ves.sequencer.v1.AppendBatchRequest.batch_id",
]);

const INT64_TYPES = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

const MIN_SECONDS = BigInt(DB_TIME_MIN.getTime() / 1000);
const MAX_SECONDS = BigInt(Math.floor(DB_TIME_MAX.getTime() / 1000));

type Fields = Record<string, unknown>;

function checkScalar(type: ScalarType, value: unknown, path: string): void {
  if (type === ScalarType.STRING) assertDbText(value as string, path);
  else if (INT64_TYPES.has(type)) assertDbBigint(BigInt(value as bigint | string), path);
}

function checkTimestamp(m: Fields, path: string): void {
  const seconds = BigInt(m.seconds as bigint | string);
  const nanos = m.nanos as number;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) {
    throw invalidField(path, `${DB_TIME_RANGE} (nanos 0..999999999)`, `seconds ${seconds}, nanos ${nanos}`);
  }
}

function checkMessage(desc: DescMessage, m: Fields, path: string): void {
  if (desc.typeName === "google.protobuf.Timestamp") {
    checkTimestamp(m, path);
    return;
  }
  if (PER_EVENT_MESSAGES.has(desc.typeName)) return;
  for (const f of desc.fields) {
    if (PER_BATCH_FIELDS.has(`${desc.typeName}.${f.name}`)) continue;
    const value = fieldValue(f, m);
    if (value === undefined) continue;
    checkField(f, value, path === "" ? f.name : `${path}.${f.name}`);
  }
}

function fieldValue(f: DescField, m: Fields): unknown {
  if (f.oneof === undefined) return m[f.localName];
  const o = m[f.oneof.localName] as { case: string | undefined; value: unknown } | undefined;
  return o?.case === f.localName ? o.value : undefined;
}

function checkField(f: DescField, value: unknown, path: string): void {
  switch (f.fieldKind) {
    case "scalar":
      checkScalar(f.scalar, value, path);
      return;
    case "message":
      checkMessage(f.message, value as Fields, path);
      return;
    case "list": {
      const items = value as unknown[];
      if (f.listKind === "scalar") {
        if (f.scalar !== ScalarType.STRING && !INT64_TYPES.has(f.scalar)) return;
        for (const [i, v] of items.entries()) checkScalar(f.scalar, v, `${path}[${i}]`);
      } else if (f.listKind === "message" && !PER_EVENT_MESSAGES.has(f.message.typeName)) {
        for (const [i, v] of items.entries()) checkMessage(f.message, v as Fields, `${path}[${i}]`);
      }
      return;
    }
    case "map":
      for (const [k, v] of Object.entries(value as Fields)) {
        if (f.mapKey === ScalarType.STRING) assertDbText(k, `${path}[${JSON.stringify(k)}]`);
        if (f.mapKind === "scalar") checkScalar(f.scalar, v, `${path}[${JSON.stringify(k)}]`);
        else if (f.mapKind === "message")
          checkMessage(f.message, v as Fields, `${path}[${JSON.stringify(k)}]`);
      }
      return;
    default:
      return; // enums: the domain names the allowed values
  }
}

/** Throws DomainError invalid_argument naming the first field of `message` outside the database's domain. */
export function checkRequestDomain(desc: DescMessage, message: unknown): void {
  checkMessage(desc, message as Fields, "");
}

async function* checkEach<T>(messages: AsyncIterable<T>, desc: DescMessage): AsyncGenerator<T> {
  for await (const m of messages) {
    checkRequestDomain(desc, m);
    yield m;
  }
}

/** Checks every request message (unary, and each message of a stream as it is read) with checkRequestDomain. */
export function requestDomainInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      checkRequestDomain(req.method.input, req.message);
      return next(req);
    }
    return next({ ...req, message: checkEach(req.message, req.method.input) });
  };
}

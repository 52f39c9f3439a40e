// A grpc-js Subscribe client that keeps responses as bytes and walks just enough of each message (sequence numbers
// and receipt times) that the bench measures the server, not the client's protobuf decoding.
import { toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type SubscribeRequest, SubscribeRequestSchema } from "../gen/ves/sequencer/v1/sequencer_pb.js";

const passthrough = (b: Buffer): Buffer => b;

const definition: grpc.ServiceDefinition = {
  Subscribe: {
    path: "/ves.sequencer.v1.SequencerService/Subscribe",
    requestStream: false,
    responseStream: true,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
    originalName: "subscribe",
  },
};

const Client = grpc.makeGenericClientConstructor(definition, "SequencerService");

export interface DeliveredEvent {
  readonly sequence: bigint;
  /** Receipt sequenced_at in milliseconds since the epoch. */
  readonly sequencedAtMs: number;
  /** The SequencedEvent's bytes (a view into the message). */
  readonly bytes: Uint8Array;
}

export interface SubscriptionHandle {
  /** Resolves when the server ends the stream; rejects with its error. */
  readonly done: Promise<void>;
  cancel(): void;
}

export interface RawSubscribeClient {
  subscribe(
    req: Omit<SubscribeRequest, "$typeName" | "filter" | "heartbeatIntervalMs"> & {
      heartbeatIntervalMs?: number;
    },
    onEvents: (events: DeliveredEvent[], receivedAtMs: number) => void,
  ): SubscriptionHandle;
  close(): void;
}

// A minimal protobuf walker without allocations per field: the bench client must stay cheap, since it shares the
// machine with the server it measures.
let pos = 0;

function varint(b: Uint8Array): number {
  let result = 0;
  let shift = 1;
  for (;;) {
    const byte = b[pos++] as number;
    result += (byte & 0x7f) * shift;
    if (byte < 0x80) return result;
    shift *= 128;
  }
}

function skip(b: Uint8Array, wireType: number): void {
  if (wireType === 0) varint(b);
  else if (wireType === 2) {
    const n = varint(b); // before reading pos: varint moves it
    pos += n;
  } else if (wireType === 1) pos += 8;
  else if (wireType === 5) pos += 4;
  else throw new Error(`unexpected wire type ${wireType}`);
}

/** Sequence number and sequenced_at of the SequencedEvent in b[start, end): its receipt is field 2. */
function receiptOf(b: Uint8Array, start: number, end: number): { sequence: bigint; sequencedAtMs: number } {
  pos = start;
  let sequence = -1;
  let sequencedAtMs = 0;
  while (pos < end) {
    const tag = varint(b);
    if (tag !== ((2 << 3) | 2)) {
      skip(b, tag & 7);
      continue;
    }
    const receiptEnd = varint(b) + pos;
    while (pos < receiptEnd) {
      const t = varint(b);
      if (t === 6 << 3) sequence = varint(b);
      else if (t === ((7 << 3) | 2)) {
        const tsEnd = varint(b) + pos;
        let seconds = 0;
        let nanos = 0;
        while (pos < tsEnd) {
          const tt = varint(b);
          if (tt === 1 << 3) seconds = varint(b);
          else if (tt === 2 << 3) nanos = varint(b);
          else skip(b, tt & 7);
        }
        sequencedAtMs = seconds * 1000 + nanos / 1e6;
      } else skip(b, t & 7);
    }
  }
  return { sequence: BigInt(sequence), sequencedAtMs };
}

/** The events of a SubscribeResponse (none for a heartbeat). */
export function eventsOf(message: Uint8Array): DeliveredEvent[] {
  const out: DeliveredEvent[] = [];
  pos = 0;
  while (pos < message.length) {
    const tag = varint(message);
    if (tag !== ((1 << 3) | 2)) {
      skip(message, tag & 7);
      continue;
    }
    const end = varint(message) + pos;
    while (pos < end) {
      const t = varint(message);
      if (t !== ((1 << 3) | 2)) {
        skip(message, t & 7);
        continue;
      }
      const len = varint(message);
      const start = pos;
      const r = receiptOf(message, start, start + len);
      pos = start + len;
      out.push({ ...r, bytes: message.subarray(start, start + len) });
    }
  }
  return out;
}

/** sequenced_at (ms) of the first receipt in an AppendResponse's batch result (undefined when there is none). */
export function firstReceiptTimeOf(response: Uint8Array): number | undefined {
  pos = 0;
  while (pos < response.length) {
    const tag = varint(response);
    if (tag !== ((1 << 3) | 2)) {
      skip(response, tag & 7);
      continue;
    }
    const end = varint(response) + pos;
    while (pos < end) {
      const t = varint(response);
      if (t !== ((4 << 3) | 2)) {
        skip(response, t & 7);
        continue;
      }
      // EventResult: its receipt is field 2, laid out like SequencedEvent's receipt.
      const len = varint(response);
      return receiptOf(response, pos, pos + len).sequencedAtMs;
    }
  }
  return undefined;
}

export function createRawSubscribeClient(
  address: string,
  apiKey: string,
  windowBytes = 4 * 1024 * 1024,
): RawSubscribeClient {
  const client = new Client(address, grpc.credentials.createInsecure(), {
    "grpc-node.flow_control_window": windowBytes,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
  });
  return {
    subscribe(req, onEvents) {
      const bytes = toBinary(SubscribeRequestSchema, {
        $typeName: "ves.sequencer.v1.SubscribeRequest",
        ...req,
      });
      const metadata = new grpc.Metadata();
      metadata.set("authorization", `ApiKey ${apiKey}`);
      const call = (
        client as unknown as { Subscribe(b: Buffer, m: grpc.Metadata): grpc.ClientReadableStream<Buffer> }
      ).Subscribe(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), metadata);
      let cancelled = false;
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (b: Buffer) => {
          const now = Date.now();
          onEvents(eventsOf(b), now);
        });
        call.on("error", (err: grpc.ServiceError) => {
          if (cancelled && err.code === grpc.status.CANCELLED) resolve();
          else reject(err);
        });
        call.on("end", () => resolve());
      });
      return {
        done,
        cancel() {
          cancelled = true;
          call.cancel();
        },
      };
    },
    close() {
      client.close();
    },
  };
}

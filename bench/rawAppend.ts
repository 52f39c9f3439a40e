// A grpc-js Append client that sends pre-encoded requests and keeps responses as bytes, so the timed window
// measures the server, not the client's protobuf work. One client = one HTTP/2 connection.
import * as grpc from "@grpc/grpc-js";

const passthrough = (b: Buffer): Buffer => b;

const definition: grpc.ServiceDefinition = {
  Append: {
    path: "/ves.sequencer.v1.SequencerService/Append",
    requestStream: true,
    responseStream: true,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
    originalName: "append",
  },
};

const Client = grpc.makeGenericClientConstructor(definition, "SequencerService");

export interface RawAppendClient {
  /**
   * Streams `requests` in order (waiting for `due(i)` before each, if given) and resolves with the batch
   * responses, in order, as bytes. `onResponse` sees each as it arrives. With `onUpgrade`, receipt upgrades
   * (AppendResponse field 2) go there instead, the stream is half-closed after the last request, and the call
   * resolves when the server ends it (once every upgrade is sent).
   */
  append(
    requests: readonly Uint8Array[],
    opts?: {
      due?: (i: number) => number;
      onResponse?: (i: number) => void;
      onUpgrade?: (response: Buffer) => void;
    },
  ): Promise<Buffer[]>;
  close(): void;
}

// The first byte of an encoded AppendResponse is its oneof field's tag: 0x0a batch_result, 0x12 receipt_upgrade.
const RECEIPT_UPGRADE_TAG = 0x12;

export function createRawAppendClient(address: string, apiKey: string): RawAppendClient {
  const client = new Client(address, grpc.credentials.createInsecure(), {
    "grpc-node.flow_control_window": 32 * 1024 * 1024,
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    "grpc.max_send_message_length": 256 * 1024 * 1024,
  });
  return {
    append(requests, opts = {}) {
      return new Promise((resolve, reject) => {
        const metadata = new grpc.Metadata();
        metadata.set("authorization", `ApiKey ${apiKey}`);
        const call = (
          client as unknown as { Append(m: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer> }
        ).Append(metadata);
        const responses: Buffer[] = [];
        const upgrades = opts.onUpgrade;
        call.on("data", (b: Buffer) => {
          if (upgrades !== undefined && b[0] === RECEIPT_UPGRADE_TAG) {
            upgrades(b);
            return;
          }
          opts.onResponse?.(responses.length);
          responses.push(b);
          if (upgrades === undefined && responses.length === requests.length) call.end();
        });
        call.on("error", reject);
        call.on("end", () => resolve(responses));
        void (async () => {
          for (const [i, r] of requests.entries()) {
            const due = opts.due?.(i);
            if (due !== undefined) {
              const wait = due - performance.now();
              if (wait > 0) await new Promise((w) => setTimeout(w, wait));
            }
            if (!call.write(Buffer.from(r.buffer, r.byteOffset, r.byteLength))) {
              await new Promise((d) => call.once("drain", d));
            }
          }
          if (upgrades !== undefined) call.end();
        })().catch(reject);
      });
    },
    close() {
      client.close();
    },
  };
}

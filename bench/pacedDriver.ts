// The paced phase of the ingest bench, in a worker thread of its own: a worker has its own V8 heap, so the
// garbage collection of the main bench thread (which held the peak's hundreds of MB of events and receipts) cannot
// pause the clock that measures latency. Measured: in the main thread, a mark-compact every ~1.5 s after the peak
// stopped the loop for 50-100 ms and showed up as ~100 ms "server" stalls.
//
// Input (workerData): the connections' address and key, the untimed warm-up requests and the paced requests per
// stream (ArrayBuffers transferred, not copied), the interval and the warm-up length. Output (one message):
// latencies (ms, sorted), the slow-batch timeline when asked, and the responses as bytes per stream.
import { parentPort, workerData } from "node:worker_threads";
import { startTsWorker } from "../src/infra/startTsWorker.js";
import { createRawAppendClient } from "./rawAppend.js";
import { settle } from "./support.js";

export interface PacedDriverInput {
  readonly address: string;
  readonly apiKey: string;
  readonly warmup: Uint8Array[][];
  readonly requests: Uint8Array[][];
  readonly intervalMs: number;
  readonly warmupMs: number;
  readonly trace: boolean;
}

export interface PacedDriverOutput {
  readonly latencies: Float64Array;
  readonly slow: [number, number][];
  readonly responses: Uint8Array[][];
}

/** Runs the paced phase in a worker thread; `onResponse` is called per batch response, as it arrives. */
export function runPacedDriver(input: PacedDriverInput, onResponse: () => void): Promise<PacedDriverOutput> {
  const worker = startTsWorker(new URL("./pacedDriver.ts", import.meta.url), { ...input });
  return new Promise((resolve, reject) => {
    worker.on("message", (m: { progress?: number; done?: PacedDriverOutput; error?: string }) => {
      if (m.progress !== undefined) onResponse();
      else if (m.done !== undefined) {
        resolve(m.done);
        void worker.terminate();
      } else if (m.error !== undefined) {
        reject(new Error(`paced driver: ${m.error}`));
        void worker.terminate();
      }
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`paced driver exited with code ${code}`)));
  });
}

/** Runs in the worker: warm up, then the paced schedule. */
async function run(input: PacedDriverInput): Promise<PacedDriverOutput> {
  const streams = input.requests.length;
  const clients = Array.from({ length: streams }, () => createRawAppendClient(input.address, input.apiKey));
  try {
    // An untimed call per connection first: the first Append call on a connection costs this thread a few
    // hundred ms inside grpc-js when its heap was just shrunk, and would delay the first paced batches.
    await Promise.all(clients.map((c, i) => c.append(input.warmup[i] ?? [])));
    await settle();
    const latencies: number[] = [];
    const timeline: [number, number][] = [];
    const start = performance.now() + 50;
    const responses = await Promise.all(
      clients.map((c, si) => {
        const dueAt = (i: number): number => start + (si * input.intervalMs) / streams + i * input.intervalMs;
        return c.append(input.requests[si] ?? [], {
          due: dueAt,
          onResponse: (i) => {
            const now = performance.now();
            // The first warm-up ms bring the idle server back up to speed: sent at the paced rate, not counted.
            if (dueAt(i) >= start + input.warmupMs) latencies.push(now - dueAt(i));
            if (input.trace) timeline.push([Math.round(dueAt(i) - start), Math.round(now - dueAt(i))]);
            parentPort?.postMessage({ progress: 1 });
          },
        });
      }),
    );
    latencies.sort((a, b) => a - b);
    return {
      latencies: Float64Array.from(latencies),
      slow: timeline.filter(([, l]) => l > 50),
      responses,
    };
  } finally {
    for (const c of clients) c.close();
  }
}

if (
  parentPort !== null &&
  workerData !== null &&
  (workerData as { address?: string }).address !== undefined
) {
  const port = parentPort;
  run(workerData as PacedDriverInput).then(
    (out) => port.postMessage({ done: out }),
    (err: unknown) => port.postMessage({ error: String((err as Error)?.stack ?? err) }),
  );
}

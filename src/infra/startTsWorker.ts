// Worker threads whose code is TypeScript: started through tsx's loader (src/infra/tsWorker.mjs).
import { Worker } from "node:worker_threads";

const BOOTSTRAP = new URL("./tsWorker.mjs", import.meta.url);

export function startTsWorker(
  entry: URL,
  workerData: Record<string, unknown>,
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number },
): Worker {
  return new Worker(BOOTSTRAP, {
    workerData: { ...workerData, __entry: entry.href },
    // The bootstrap loads TypeScript itself; the parent's flags (V8 heap sizes, --import) do not apply here.
    execArgv: [],
    ...(resourceLimits === undefined ? {} : { resourceLimits }),
  });
}

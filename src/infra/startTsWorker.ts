// Worker threads whose code is TypeScript: started through tsx's loader (src/infra/tsWorker.mjs).
import { Worker } from "node:worker_threads";

const BOOTSTRAP = new URL("./tsWorker.mjs", import.meta.url);

export function startTsWorker(entry: URL, workerData: Record<string, unknown>): Worker {
  return new Worker(BOOTSTRAP, {
    workerData: { ...workerData, __entry: entry.href },
    execArgv: process.execArgv.filter((a) => !a.startsWith("--inspect")),
  });
}

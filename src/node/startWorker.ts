// The SDK's worker threads (the pattern of src/infra/startTsWorker.ts, kept apart by the dependency rule): from
// dist/ (plain node) the compiled .js beside this module; from source through tsx's loader (tsWorker.mjs).
import { Worker } from "node:worker_threads";

const BOOTSTRAP = new URL("./tsWorker.mjs", import.meta.url);
/** This module was compiled by tsc (npm run build): so were the workers, as .js files beside their .ts names. */
const COMPILED = import.meta.url.endsWith(".js");

export function startWorker(entry: URL): Worker {
  if (COMPILED) return new Worker(new URL(entry.href.replace(/\.ts$/, ".js")), { execArgv: [] });
  // The bootstrap loads TypeScript itself; the parent's flags (V8 heap sizes, --import) do not apply here.
  return new Worker(BOOTSTRAP, { workerData: { __entry: entry.href }, execArgv: [] });
}

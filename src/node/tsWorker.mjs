// Starts a TypeScript worker thread of the SDK from source: loads workerData.__entry through tsx (the same
// bootstrap as src/infra/tsWorker.mjs, kept apart by the dependency rule). Unused from dist/ (plain node).
import { workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

await tsImport(workerData.__entry, import.meta.url);

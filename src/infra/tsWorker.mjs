// Starts a TypeScript worker thread: loads workerData.__entry through tsx, whatever loader the parent used.
import { workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

await tsImport(workerData.__entry, import.meta.url);

// Worker threads whose code is TypeScript: started through tsx's loader (src/infra/tsWorker.mjs) when running
// from source, or straight from the compiled .js beside this module when running from dist/ (plain node).
import { Worker } from "node:worker_threads";

const BOOTSTRAP = new URL("./tsWorker.mjs", import.meta.url);
/** This module was compiled by tsc (npm run build): so were the workers, as .js files beside their .ts names. */
const COMPILED = import.meta.url.endsWith(".js");

export function startTsWorker(
  entry: URL,
  workerData: Record<string, unknown>,
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number },
): Worker {
  const limits = resourceLimits === undefined ? {} : { resourceLimits };
  if (COMPILED) {
    return new Worker(new URL(entry.href.replace(/\.ts$/, ".js")), { workerData, execArgv: [], ...limits });
  }
  return new Worker(BOOTSTRAP, {
    workerData: { ...workerData, __entry: entry.href },
    // The bootstrap loads TypeScript itself; the parent's flags (V8 heap sizes, --import) do not apply here.
    execArgv: [],
    ...limits,
  });
}

// Embedded PostgreSQL for development: PGlite persisted in a data directory, served on a loopback port
// from a worker thread, so postgres.js talks to it exactly as to a real server.
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { startTsWorker } from "../startTsWorker.js";

export interface EmbeddedPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(
  dataDir: string,
  maxConnections: number,
): Promise<EmbeddedPostgres> {
  await mkdir(dataDir, { recursive: true });
  const worker = startTsWorker(new URL("./embeddedPostgresWorker.ts", import.meta.url), {
    dataDir,
    maxConnections,
  });
  const [first] = (await Promise.race([
    once(worker, "message"),
    once(worker, "error").then(([err]) => {
      throw err;
    }),
  ])) as [{ port: number }];
  return {
    url: `postgres://postgres@127.0.0.1:${first.port}/postgres`,
    async stop() {
      worker.postMessage("stop");
      await Promise.race([once(worker, "message"), new Promise((r) => setTimeout(r, 5000))]);
      await worker.terminate();
    },
  };
}

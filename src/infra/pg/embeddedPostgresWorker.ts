// Worker thread that runs PGlite (PostgreSQL in WebAssembly) behind its socket server, so the embedded
// database never blocks the sequencer's event loop.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const { dataDir, maxConnections } = workerData as { dataDir: string; maxConnections: number };

const db = await PGlite.create(dataDir);
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections });
await server.start();
const [, port] = server.getServerConn().split(":");
parentPort?.postMessage({ port: Number(port) });

parentPort?.on("message", async (msg: unknown) => {
  if (msg !== "stop") return;
  await server.stop();
  await db.close();
  parentPort?.postMessage({ stopped: true });
});

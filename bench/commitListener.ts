// Worker thread of bench/subscribe.ts: LISTENs on the sequencer's commit channel and notes when each commit's
// notification arrives. PostgreSQL sends it at commit, and this thread does nothing else, so the arrival times are
// the commit instants as seen from outside the server.
import { parentPort, workerData } from "node:worker_threads";
import postgres from "postgres";
import { COMMIT_CHANNEL, parseCommitPayload } from "../src/infra/pg/commitChannel.js";

const { url } = workerData as { url: string };
const sql = postgres(url, { max: 1, onnotice: () => {} });
const seen: [string, number, number][] = []; // stream key, head, arrival ms
await sql.listen(COMMIT_CHANNEL, (payload) => {
  const commit = parseCommitPayload(payload);
  if (commit !== undefined)
    seen.push([`${commit.stream.tenantId}:${commit.stream.storeId}`, Number(commit.head), Date.now()]);
});
parentPort?.postMessage({ ready: true });
parentPort?.on("message", async () => {
  parentPort?.postMessage({ seen });
  await sql.end({ timeout: 1 });
});

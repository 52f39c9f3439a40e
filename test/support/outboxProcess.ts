// A test agent process with an outbox: appends `count` events (unless 0), syncs until drained, prints status
// lines. Run with `node --import tsx`; tests SIGKILL it mid-sync and start it again on the same file.
import { hexToBytes } from "../../src/crypto/bytes.js";
import { signerFromSeed } from "../../src/node/createAgent.js";
import { createOutbox } from "../../src/node/createOutbox.js";

const [file, url, credential, seed, tenantId, storeId, sourceAgentId, key, count] = process.argv.slice(
  2,
) as string[];
const outbox = createOutbox({
  path: file as string,
  url: url as string,
  credential: credential as string,
  signer: signerFromSeed(hexToBytes(seed as string)),
  tenantId: tenantId as string,
  storeId: storeId as string,
  sourceAgentId: sourceAgentId as string,
  agentKeyId: 1,
  sequencerKey: hexToBytes(key as string),
  batchSize: 100,
  reconnect: { initialDelayMs: 50, maxDelayMs: 250 },
});
const n = Number(count);
for (let i = 0; i < n; i += 1000) {
  outbox.appendMany(
    Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      entityType: "order",
      entityId: `o-${i + k}`,
      eventType: "order.created",
      payload: { i: i + k },
    })),
  );
}
const report = (): void => {
  const s = outbox.status();
  process.stdout.write(
    `${JSON.stringify({ waiting: s.waiting, acknowledged: s.acknowledged, failed: s.failed })}\n`,
  );
};
report();
const timer = setInterval(report, 20);
await outbox.drain();
clearInterval(timer);
report();
await outbox.close();
process.stdout.write("done\n");

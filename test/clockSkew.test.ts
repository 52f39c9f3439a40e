// One clock for revocation and sequencing: instances whose clocks disagree with each other by ±2 s revoke and
// sequence, and the stored history stays ordered by PostgreSQL's clock. A key revoked on an instance that runs
// ahead is refused at once on the others, and no stored event has sequenced_at at or after its key's
// revoked_at, even for events sequenced while the revocation (on an instance that runs behind) was committing.
import { createClient } from "@connectrpc/connect";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent, type TestAgent } from "./support/agent.js";
import { makeBatch } from "./support/appendSession.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import {
  type SequencerProcess,
  spawnSequencer,
  startTestSequencer,
  testIdentity,
  testTransport,
} from "./support/sequencer.js";

const SKEW_MS = 2_000;
const identity = testIdentity();
let db: TestDatabase;
let sql: postgres.Sql;
let sequencer: Sequencer;
let ahead: SequencerProcess;
let behind: SequencerProcess;

const skewed = (ms: number): Record<string, string> => ({
  ...identity,
  NODE_OPTIONS: "--import ./test/support/skewedClock.mjs",
  VES_TEST_CLOCK_SKEW_MS: String(ms),
  COMMIT_WORKER: "false",
  CRYPTO_WORKERS: "1",
});

beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
  sequencer = await startTestSequencer(db.url, identity);
  [ahead, behind] = await Promise.all([
    spawnSequencer(db.url, skewed(SKEW_MS)),
    spawnSequencer(db.url, skewed(-SKEW_MS)),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([ahead?.kill("SIGKILL"), behind?.kill("SIGKILL")]);
  await sequencer?.stop();
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

async function appendOne(agent: TestAgent): Promise<string> {
  const client = createClient(SequencerService, testTransport(sequencer.url));
  const res = await client.appendBatch({
    batchId: crypto.randomUUID(),
    events: makeBatch(agent, 1).request.events,
  });
  const outcome = res.result?.results[0]?.outcome;
  return outcome?.case === "receipt" ? "receipt" : `rejected: ${outcome?.value?.message ?? "?"}`;
}

async function revokeOn(proc: SequencerProcess, agent: TestAgent): Promise<void> {
  await createClient(KeyRegistryService, testTransport(proc.url)).revokeAgentKey({
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    reason: "compromised",
  });
}

/** Events stored with a sequenced_at at or after their key's revoked_at. */
async function eventsAfterRevocation(agent: TestAgent): Promise<number> {
  const [row] = await sql<{ n: bigint }[]>`
    select count(*) as n from events e
    join agent_keys k on k.tenant_id = e.tenant_id and k.agent_id = e.source_agent_id and k.key_id = e.agent_key_id
    where k.agent_id = ${agent.agentId} and k.revoked_at is not null and e.sequenced_at >= k.revoked_at`;
  return Number(row?.n ?? -1);
}

it("the processes' clocks really disagree", async () => {
  // Each child logs pino times from its own clock. They were started together, so their "listening" lines
  // were written close together in real time, but their clocks say 4 s apart.
  const listening = (p: SequencerProcess): number =>
    Number(/"time":(\d+)[^\n]*sequencer listening/.exec(p.output())?.[1]);
  expect(listening(ahead) - listening(behind)).toBeGreaterThan(SKEW_MS);
});

it("a key revoked on an instance running 2 s ahead is refused at once by the others", async () => {
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(sequencer.url)), agent);
  expect(await appendOne(agent)).toBe("receipt");
  await revokeOn(ahead, agent);
  expect(await appendOne(agent)).toMatch(/^rejected: .*revoked/);
  expect(await eventsAfterRevocation(agent)).toBe(0);
});

it("no event sequenced while a revocation commits (on an instance 2 s behind) is stored after revoked_at", async () => {
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(sequencer.url)), agent);
  let stop = false;
  let accepted = 0;
  const load = (async () => {
    while (!stop) if ((await appendOne(agent)) === "receipt") accepted++;
  })();
  await new Promise((r) => setTimeout(r, 500));
  await revokeOn(behind, agent);
  const acceptedAtRevoke = accepted;
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await load;
  expect(acceptedAtRevoke).toBeGreaterThan(0);
  // Nothing is accepted once the revocation has committed (allow the one call that was in flight).
  expect(accepted - acceptedAtRevoke).toBeLessThanOrEqual(1);
  expect(await appendOne(agent)).toMatch(/^rejected: .*revoked/);
  expect(await eventsAfterRevocation(agent)).toBe(0);
  const [key] = await sql<{ revoked_at: Date; last: Date }[]>`
    select k.revoked_at, (select max(sequenced_at) from events where source_agent_id = ${agent.agentId}) as last
    from agent_keys k where k.agent_id = ${agent.agentId}`;
  expect(key?.last.getTime()).toBeLessThan(key?.revoked_at.getTime() as number);
}, 20_000);

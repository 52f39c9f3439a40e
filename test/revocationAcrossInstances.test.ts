// Two instances on one database: a revocation made through one takes effect on the other within a second —
// agent keys (read inside the sequencing transaction) and API keys (a cache invalidated by LISTEN/NOTIFY; its
// TTL is set to a minute here, so only the notification can explain a prompt refusal).

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ApiKeyService } from "../gen/ves/sequencer/v1/api_key_pb.js";
import { RejectionReason } from "../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { signedEventToProto } from "../src/client/toProto.js";
import type { Sequencer } from "../src/main.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { createTestApiKey } from "./support/auth.js";
import { batchResultOf } from "./support/batchResult.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testIdentity, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let one: Sequencer;
let two: Sequencer;

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { ...testIdentity(), AUTH_CACHE_TTL_MS: "60000", CRYPTO_WORKERS: "1", DB_POOL_MAX: "4" };
  one = await startTestSequencer(db.url, env);
  two = await startTestSequencer(db.url, env);
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await db?.drop();
});

it("rejects an event signed with an agent key revoked on the other instance, at once", async () => {
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(one.url)), agent);
  const seqTwo = createClient(SequencerService, testTransport(two.url));
  const append = async () => {
    const res = await seqTwo.appendBatch({ batchId: "b", events: [signedEventToProto(agent.event())] });
    const r = res.result?.results[0];
    return r?.outcome.case === "rejection" ? r.outcome.value.reason : r?.outcome.case;
  };
  expect(await append()).toBe("receipt");
  await createClient(KeyRegistryService, testTransport(one.url)).revokeAgentKey({
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    keyId: agent.keyId,
    reason: "compromised",
  });
  const revokedAt = performance.now();
  expect(await append()).toBe(RejectionReason.KEY_REVOKED);
  expect(performance.now() - revokedAt).toBeLessThan(1000);
});

it("refuses an API key revoked on the other instance within a second, on calls and on an open stream", async () => {
  const agent = createAgent();
  await registerAgent(createClient(KeyRegistryService, testTransport(one.url)), agent);
  const k = await createTestApiKey(testTransport(one.url), {
    tenantId: agent.tenantId,
    perms: ["read", "write"],
  });
  const seqTwo = createClient(SequencerService, testTransport(two.url, k.secret));
  const head = () =>
    seqTwo.getHead({ tenantId: agent.tenantId, storeId: agent.storeId }).then(
      () => "OK",
      (e: unknown) => Code[ConnectError.from(e).code],
    );
  // Instance two has the key in its cache now (for a minute, unless told otherwise).
  expect(await head()).toBe("OK");

  // An Append stream open on instance two with the key.
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  async function* batches() {
    yield { batchId: "1", events: [signedEventToProto(agent.event())] };
    await gate;
    yield { batchId: "2", events: [signedEventToProto(agent.event())] };
  }
  const answered: string[] = [];
  const stream = (async () => {
    try {
      for await (const r of seqTwo.append(batches())) answered.push(batchResultOf(r)?.batchId ?? "?");
      return "OK";
    } catch (e) {
      return Code[ConnectError.from(e).code];
    }
  })();
  await expect.poll(() => answered.length).toBe(1);

  await createClient(ApiKeyService, testTransport(one.url)).revokeApiKey({
    tenantId: agent.tenantId,
    prefix: k.prefix,
  });
  const revokedAt = performance.now();
  let refusedAfter: number | undefined;
  while (performance.now() - revokedAt < 3000) {
    if ((await head()) === "Unauthenticated") {
      refusedAfter = performance.now() - revokedAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(refusedAfter, "instance two still accepted the revoked key").toBeDefined();
  expect(refusedAfter).toBeLessThan(1000);
  release();
  expect(await stream).toBe("Unauthenticated");
  expect(answered).toEqual(["1"]);
});

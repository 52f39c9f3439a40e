// The standard gRPC surface and the public keys, through real generic clients: `buf curl` with no --schema (it
// learns the API by server reflection, v1 and v1alpha), grpc-js's standard health client (Check, Watch, and the
// NOT_SERVING transition when the server starts draining), and the well-known keys document over plain HTTP.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { REPO_ROOT, startTestSequencer } from "./support/sequencer.js";

const run = promisify(execFile);
const BUF = path.join(REPO_ROOT, "node_modules", ".bin", "buf");

let db: TestDatabase;
let server: Awaited<ReturnType<typeof startTestSequencer>>;
let stopped = false;

beforeAll(async () => {
  db = await createTestDatabase("ves_standard");
  server = await startTestSequencer(db.url);
});

afterAll(async () => {
  if (!stopped) await server?.stop();
  await db?.drop();
});

async function bufCurl(args: string[]): Promise<string> {
  const { stdout } = await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
    timeout: 30_000,
    cwd: REPO_ROOT,
  });
  return stdout;
}

describe("server reflection (buf curl without --schema, no credential)", () => {
  it.each(["grpc-v1", "grpc-v1alpha"])("lists every method over %s", async (reflectProtocol) => {
    const out = await bufCurl(["--reflect-protocol", reflectProtocol, "--list-methods", server.url]);
    const methods = out.trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "ves.sequencer.v1.SequencerService/Append",
        "ves.sequencer.v1.SequencerService/GetSequencerInfo",
        "ves.sequencer.v1.ProofService/GetInclusionProof",
        "ves.sequencer.v1.KeyRegistryService/RegisterAgentKey",
        "ves.sequencer.v1.ApiKeyService/CreateApiKey",
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]),
    );
  });

  it("calls GetSequencerInfo and gets the receipt key", async () => {
    const out = await bufCurl([`${server.url}/ves.sequencer.v1.SequencerService/GetSequencerInfo`]);
    const info = JSON.parse(out);
    expect(info.sequencerId).toBe(server.sequencerId);
    expect(info.signingKeys[0]).toMatchObject({
      keyId: server.keyId,
      publicKey: Buffer.from(server.publicKey).toString("base64"),
      algorithm: "ed25519",
      current: true,
    });
    expect(Date.parse(info.signingKeys[0].validFrom)).toBeLessThanOrEqual(Date.now());
  });

  it("still refuses the calls it describes without a credential", async () => {
    const err = await bufCurl([
      "-d",
      JSON.stringify({ tenantId: crypto.randomUUID(), storeId: crypto.randomUUID() }),
      `${server.url}/ves.sequencer.v1.SequencerService/GetHead`,
    ]).catch((e: { stderr: string }) => e.stderr);
    expect(err).toMatch(/unauthenticated/);
  });
});

it("serves the receipt-signing keys as JSON at /.well-known/ves-sequencer-keys.json without a credential", async () => {
  const res = await fetch(`${server.url}/.well-known/ves-sequencer-keys.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/json");
  const doc = (await res.json()) as { keys: { validFrom: string }[] };
  expect(doc).toMatchObject({
    sequencerId: server.sequencerId,
    protocolVersion: "VES/1.0",
    keys: [
      {
        keyId: server.keyId,
        algorithm: "ed25519",
        publicKey: Buffer.from(server.publicKey).toString("hex"),
        current: true,
      },
    ],
  });
  const validFrom = doc.keys[0]?.validFrom as string;
  expect(new Date(validFrom).toISOString()).toBe(validFrom);
});

describe("grpc.health.v1.Health (grpc-js standard health client)", () => {
  const HealthClient = grpc.makeGenericClientConstructor(healthService, "Health");
  // biome-ignore lint/suspicious/noExplicitAny: the generic client's methods are untyped
  let client: any;
  beforeAll(() => {
    client = new HealthClient(server.url.replace("http://", ""), grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());

  const check = (service: string): Promise<{ status: string }> =>
    new Promise((resolve, reject) =>
      client.check({ service }, (err: grpc.ServiceError | null, res: { status: string }) =>
        err ? reject(err) : resolve(res),
      ),
    );

  it("answers Check for the server and for each service, and NOT_FOUND for an unknown one", async () => {
    expect((await check("")).status).toBe("SERVING");
    expect((await check("ves.sequencer.v1.SequencerService")).status).toBe("SERVING");
    await expect(check("no.such.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("Watch reports SERVING, then NOT_SERVING as soon as the server drains, then ends", async () => {
    const call = client.watch({ service: "" });
    const statuses: string[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("error", () => {});
    const first = new Promise<void>((resolve) =>
      call.on("data", (m: { status: string }) => {
        statuses.push(m.status);
        resolve();
      }),
    );
    await first;
    expect(statuses).toEqual(["SERVING"]);
    stopped = true;
    const stopping = server.stop();
    const status = await ended;
    await stopping;
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
  });
});

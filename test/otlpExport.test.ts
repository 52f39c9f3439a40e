// OTLP export as configured by the standard variables: with OTEL_EXPORTER_OTLP_ENDPOINT set, the sequencer posts
// its spans as OTLP/HTTP JSON to <endpoint>/v1/traces, named by OTEL_SERVICE_NAME, and flushes them when it stops.
// A local HTTP server stands in for the collector.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let collector: http.Server;
const posts: { path: string; contentType: string; body: string }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  collector = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      posts.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "", body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
});

afterAll(async () => {
  await new Promise((r) => collector?.close(r));
  await db?.drop();
});

interface OtlpBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { name: string }[] }[];
  }[];
}

it("exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, flushed on stop", async () => {
  const { port } = collector.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  // The exporter reads the standard variables from the process environment, as in production.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  process.env.OTEL_SERVICE_NAME = "ves-under-test";
  try {
    const server = await startTestSequencer(db.url, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    const tenantId = crypto.randomUUID();
    await createClient(SequencerService, testTransport(server.url)).getHead({
      tenantId,
      storeId: crypto.randomUUID(),
    });
    await server.stop();
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_SERVICE_NAME;
  }
  expect(posts.length).toBeGreaterThan(0);
  expect(posts[0]).toMatchObject({ path: "/v1/traces", contentType: "application/json" });
  const bodies = posts.map((p) => JSON.parse(p.body) as OtlpBody);
  const names = bodies.flatMap((b) =>
    b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => sp.name))),
  );
  expect(names).toContain("ves.sequencer.v1.SequencerService/GetHead");
  const serviceNames = bodies.flatMap((b) =>
    b.resourceSpans.map(
      (r) => r.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue,
    ),
  );
  expect(new Set(serviceNames)).toEqual(new Set(["ves-under-test"]));
});

it("a collector that is down holds up a stop by about two seconds at most", async () => {
  // Port 9 (discard) on loopback: nothing listens, every export is refused and retried.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9";
  try {
    const server = await startTestSequencer(db.url, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" });
    await createClient(SequencerService, testTransport(server.url)).getHead({
      tenantId: crypto.randomUUID(),
      storeId: crypto.randomUUID(),
    });
    const started = performance.now();
    await server.stop();
    // Without the bound, the exporter's retries held the stop for about 9 s.
    expect(performance.now() - started).toBeLessThan(5000);
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  }
}, 30_000);

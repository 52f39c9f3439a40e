// Tests for the health service's readiness: NOT_SERVING while the database does not answer, and once draining.
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { createHealthService } from "./healthService.js";

function setup(ready: () => Promise<boolean>) {
  const shutdown = new AbortController();
  const transport = createRouterTransport((router) =>
    router.service(
      Health,
      createHealthService({ services: ["a.B"], ready, shutdown: shutdown.signal, watchIntervalMs: 10 }),
    ),
  );
  return { client: createClient(Health, transport), shutdown };
}

describe("Health", () => {
  it("follows the database: NOT_SERVING while it does not answer (or fails), SERVING once it does", async () => {
    let db: "down" | "error" | "up" = "down";
    const { client } = setup(async () => {
      if (db === "error") throw new Error("connection refused");
      return db === "up";
    });
    expect((await client.check({})).status).toBe(Status.NOT_SERVING);
    db = "error";
    expect((await client.check({ service: "a.B" })).status).toBe(Status.NOT_SERVING);
    db = "up";
    expect((await client.check({})).status).toBe(Status.SERVING);
    expect((await client.list({})).statuses).toMatchObject({
      "": { status: Status.SERVING },
      "a.B": { status: Status.SERVING },
    });
  });

  it("Watch sends each change, and NOT_SERVING then UNAVAILABLE when shutdown starts", async () => {
    let up = false;
    const { client, shutdown } = setup(async () => up);
    const seen: Status[] = [];
    const done = (async () => {
      for await (const m of client.watch({})) {
        seen.push(m.status);
        if (seen.length === 1) up = true;
        if (seen.length === 2) shutdown.abort();
      }
    })().catch((e: unknown) => ConnectError.from(e));
    const err = await done;
    expect(seen).toEqual([Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING]);
    expect(err).toMatchObject({ code: Code.Unavailable });
  });

  it("Check on an unknown service is NOT_FOUND; Watch on one says SERVICE_UNKNOWN and stays open", async () => {
    const { client, shutdown } = setup(async () => true);
    await expect(client.check({ service: "x.Y" })).rejects.toMatchObject({ code: Code.NotFound });
    const it = client.watch({ service: "x.Y" })[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(Status.SERVICE_UNKNOWN);
    const next = it.next().catch((e: unknown) => ConnectError.from(e));
    const early = await Promise.race([next, new Promise((r) => setTimeout(() => r("open"), 50))]);
    expect(early).toBe("open");
    shutdown.abort();
    expect(await next).toMatchObject({ code: Code.Unavailable });
  });
});

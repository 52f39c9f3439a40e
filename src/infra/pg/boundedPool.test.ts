// The pool gate's rules without a database: transactions up to the connection count, operations up to
// max * pipelineDepth, a first-come-first-served wait of bounded length and time, refusals with a retry hint.
import { describe, expect, it } from "vitest";
import type { DomainError } from "../../domain/errors.js";
import { createPoolGate } from "./boundedPool.js";

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  return p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (err: unknown) => err as DomainError,
  );
}

describe("createPoolGate", () => {
  it("lets transactions hold at most max connections and queries pipeline up to max * pipelineDepth", async () => {
    const gate = createPoolGate({ max: 2, pipelineDepth: 3, queueMax: 0, queueTimeoutMs: 1000 });
    await gate.acquire("transaction");
    await gate.acquire("transaction");
    const tx = await refusal(gate.acquire("transaction"));
    expect(tx.reason).toBe("unavailable");
    expect(tx.retryAfterMs).toBe(1000);
    expect(tx.message).toBe(
      "the database is saturated (2 transactions on 2 connections, 2 operations running, 0 waiting); retry in 1000 ms",
    );
    for (let i = 0; i < 4; i++) await gate.acquire("query");
    expect(gate.running).toBe(6);
    expect((await refusal(gate.acquire("query"))).reason).toBe("unavailable");
    gate.release("query");
    await gate.acquire("query");
    gate.release("transaction");
    expect(gate.transactions).toBe(1);
    await gate.acquire("query");
    // A connection is free for a transaction, but 6 operations run: the cap.
    expect((await refusal(gate.acquire("transaction"))).reason).toBe("unavailable");
    gate.release("query");
    await gate.acquire("transaction");
    expect(gate.transactions).toBe(2);
  });

  it("lets queueMax wait, first come first served, and refuses one that waited queueTimeoutMs", async () => {
    const gate = createPoolGate({
      max: 1,
      pipelineDepth: 1,
      queueMax: 2,
      queueTimeoutMs: 50,
      retryAfterMs: 250,
    });
    await gate.acquire("transaction");
    const order: string[] = [];
    const first = gate.acquire("query").then(() => order.push("query"));
    const second = gate.acquire("transaction").then(() => order.push("transaction"));
    const third = await refusal(gate.acquire("query"));
    expect(third.message).toMatch(/2 waiting\); retry in 250 ms$/);
    expect(gate.waiting).toBe(2);
    gate.release("transaction");
    await first;
    expect(order).toEqual(["query"]);
    const timedOut = await refusal(second);
    expect(timedOut.message).toBe(
      "the database is saturated (no connection became free within 50 ms); retry in 250 ms",
    );
    expect(timedOut.retryAfterMs).toBe(250);
    expect(gate.waiting).toBe(0);
    gate.release("query");
    expect(gate.running).toBe(0);
  });
});

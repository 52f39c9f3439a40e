import { describe, expect, it } from "vitest";
import { createAdmission } from "./admission.js";

describe("createAdmission", () => {
  it("holds at most `limit` and admits waiters in arrival order", async () => {
    const a = createAdmission(2);
    const r1 = await a.acquire("t");
    await a.acquire("t");
    const order: number[] = [];
    const w3 = a.acquire("t").then((r) => {
      order.push(3);
      return r;
    });
    const w4 = a.acquire("t").then((r) => {
      order.push(4);
      return r;
    });
    expect(a.inUse).toBe(2);
    expect(a.waiting).toBe(2);
    r1();
    r1(); // a second release of the same slot is ignored
    await w3;
    expect(order).toEqual([3]);
    expect(a.waiting).toBe(1);
    (await w3)();
    await w4;
    expect(order).toEqual([3, 4]);
    expect(a.inUse).toBe(2);
  });

  it("drops a waiter whose signal aborts", async () => {
    const a = createAdmission(1);
    await a.acquire("t");
    const ac = new AbortController();
    const waiting = a.acquire("t", ac.signal);
    ac.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
    expect(a.waiting).toBe(0);
  });

  it("bounds each key: a key at its bound neither takes more slots nor blocks other keys", async () => {
    const a = createAdmission(4, 2);
    const first = [await a.acquire("A"), await a.acquire("A")];
    let thirdA = false;
    const waitingA = a.acquire("A").then((r) => {
      thirdA = true;
      return r;
    });
    // B is admitted at once although A waits ahead of it.
    const b = await a.acquire("B");
    expect(a.inUse).toBe(3);
    expect(thirdA).toBe(false);
    first[0]?.();
    (await waitingA)();
    expect(thirdA).toBe(true);
    b();
    first[1]?.();
    expect(a.inUse).toBe(0);
  });
});

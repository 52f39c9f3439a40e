import { describe, expect, it } from "vitest";
import { createAdmission } from "./admission.js";

describe("createAdmission", () => {
  it("holds at most `limit` and admits waiters in arrival order", async () => {
    const a = createAdmission(2);
    const r1 = await a.acquire();
    await a.acquire();
    const order: number[] = [];
    const w3 = a.acquire().then((r) => {
      order.push(3);
      return r;
    });
    const w4 = a.acquire().then((r) => {
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
    await a.acquire();
    const ac = new AbortController();
    const waiting = a.acquire(ac.signal);
    ac.abort(new Error("client left"));
    await expect(waiting).rejects.toThrow("client left");
    expect(a.waiting).toBe(0);
  });
});

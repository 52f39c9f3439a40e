import { ed25519 } from "@noble/curves/ed25519.js";
import { expect, it } from "vitest";
import { signEvent } from "./signEvent.js";

const seed = new Uint8Array(32).fill(1);
const unsigned = {
  tenantId: "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
  storeId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  sourceAgentId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
  agentKeyId: 1,
  entityType: "order",
  entityId: "o-1",
  eventType: "order.created",
  payload: { n: 1 },
};

it("gives each event a time-ordered UUIDv7 id by default, and keeps an id it is given", () => {
  const sign = { sign: (m: Uint8Array) => ed25519.sign(m, seed) };
  const before = Date.now();
  const ids = Array.from({ length: 50 }, () => signEvent(unsigned, sign).eventId);
  const after = Date.now();
  for (const id of ids) {
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ms = Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  }
  expect([...ids].sort()).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
  const given = "0B1C2D3E-4F5A-4B6C-8D7E-9F0A1B2C3D4E";
  expect(signEvent({ ...unsigned, eventId: given }, sign).eventId).toBe(given.toLowerCase());
});

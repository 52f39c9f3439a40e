// The LISTEN/NOTIFY channel that announces committed heads: "tenant:store:head", sent inside the sequencing
// transaction so PostgreSQL delivers it exactly when (and only if) the transaction commits.
import type { StreamKey } from "../../domain/event.js";

export const COMMIT_CHANNEL = "ves_heads";

export function commitPayload(stream: StreamKey, head: bigint): string {
  return `${stream.tenantId}:${stream.storeId}:${head}`;
}

const PAYLOAD = /^([0-9a-f-]{36}):([0-9a-f-]{36}):(\d{1,20})$/;

/** The stream and head of a payload; undefined for anything else (e.g. a feed's own pings). */
export function parseCommitPayload(payload: string): { stream: StreamKey; head: bigint } | undefined {
  const m = PAYLOAD.exec(payload);
  if (m === null) return undefined;
  return { stream: { tenantId: m[1] as string, storeId: m[2] as string }, head: BigInt(m[3] as string) };
}

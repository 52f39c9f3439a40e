// Use case: a stream's commitments in sequence order, a page at a time.
import type { Commitment } from "../domain/commitment.js";
import { invalidField, showValue } from "../domain/errors.js";
import { parseStreamKey } from "../domain/streamKey.js";
import type { ProofDeps } from "./ports.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface CommitmentPage {
  readonly commitments: Commitment[];
  /** "" when there is nothing after this page (yet). */
  readonly nextPageToken: string;
}

/** The page token is the last sequence number of the previous page, in decimal: opaque to clients. */
function parsePageToken(token: string): bigint {
  if (token === "") return 0n;
  if (!/^[0-9]{1,20}$/.test(token))
    throw invalidField("page_token", "a token from a previous page", showValue(token));
  return BigInt(token);
}

export async function listCommitments(
  deps: ProofDeps,
  tenantId: string,
  storeId: string,
  pageSize: number,
  pageToken: string,
): Promise<CommitmentPage> {
  const stream = parseStreamKey(tenantId, storeId);
  if (pageSize > MAX_PAGE_SIZE) throw invalidField("page_size", `0..${MAX_PAGE_SIZE}`, `${pageSize}`);
  const size = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  const after = parsePageToken(pageToken);
  const rows = await deps.commitments.list(stream, after, size + 1);
  const commitments = rows.slice(0, size);
  const last = commitments.at(-1);
  return {
    commitments,
    nextPageToken: rows.length > size && last !== undefined ? `${last.sequenceEnd}` : "",
  };
}

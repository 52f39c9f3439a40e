// Use case: create an API key (docs/protocol.md §3.2, §16.9). The secret is returned once; only its SHA-256 is
// stored. The creation is recorded in the tenant's key audit log in the same transaction.
import { utf8 } from "../crypto/bytes.js";
import type { Sha256 } from "../crypto/sha256.js";
import { API_KEY_PREFIX_BYTES, API_KEY_SECRET_BYTES, type ApiKey, formatApiKey } from "../domain/apiKey.js";
import { DomainError, invalidField, showValue } from "../domain/errors.js";
import { isPermission, type Permission } from "../domain/principal.js";
import type { ApiKeyStore, Clock } from "./ports.js";
import { uuidField } from "./uuidField.js";

export interface ApiKeyDeps {
  readonly store: ApiKeyStore;
  readonly clock: Clock;
  readonly sha256: Sha256;
  /** Cryptographically secure random bytes. */
  readonly random: (n: number) => Uint8Array;
}

export interface CreateApiKeyInput {
  readonly tenantId: string;
  readonly name: string;
  readonly permissions: readonly string[];
  readonly storeIds: readonly string[];
  /** Empty: not bound to an agent. */
  readonly agentId: string;
  /** Requests per second; 0: no limit. */
  readonly rateLimit: number;
  readonly actor: string;
}

export const MAX_API_KEY_STORES = 1000;
export const MAX_RATE_LIMIT = 1_000_000;

export async function createApiKey(
  deps: ApiKeyDeps,
  input: CreateApiKeyInput,
): Promise<{ apiKey: ApiKey; secret: string }> {
  const tenantId = uuidField("tenant_id", input.tenantId);
  if (input.name.length > 128) throw invalidField("name", "at most 128 characters", `${input.name.length}`);
  if (input.permissions.length === 0)
    throw invalidField("permissions", "at least one of read, write, admin", "none");
  const permissions = new Set<Permission>();
  for (const [i, p] of input.permissions.entries()) {
    if (!isPermission(p)) throw invalidField(`permissions[${i}]`, "read, write or admin", showValue(p));
    permissions.add(p);
  }
  if (input.storeIds.length > MAX_API_KEY_STORES) {
    throw invalidField("store_ids", `at most ${MAX_API_KEY_STORES} stores`, `${input.storeIds.length}`);
  }
  const storeIds = [...new Set(input.storeIds.map((s, i) => uuidField(`store_ids[${i}]`, s)))];
  const agentId = input.agentId === "" ? undefined : uuidField("agent_id", input.agentId);
  if (!Number.isInteger(input.rateLimit) || input.rateLimit < 0 || input.rateLimit > MAX_RATE_LIMIT) {
    throw invalidField(
      "rate_limit",
      `0..${MAX_RATE_LIMIT} requests per second (0: no limit)`,
      `${input.rateLimit}`,
    );
  }
  const now = deps.clock.now();
  // A prefix collision (48 random bits) is astronomically rare; one retry covers it.
  for (let attempt = 1; ; attempt++) {
    const { prefix, key } = formatApiKey(
      deps.random(API_KEY_PREFIX_BYTES),
      deps.random(API_KEY_SECRET_BYTES),
    );
    const apiKey: ApiKey = {
      prefix,
      tenantId,
      keyHash: deps.sha256(utf8(key)),
      name: input.name,
      permissions: [...permissions],
      storeIds,
      agentId,
      rateLimit: input.rateLimit === 0 ? undefined : input.rateLimit,
      createdAt: now,
      createdBy: input.actor,
      revokedAt: undefined,
    };
    try {
      const stored = await deps.store.insert(apiKey, {
        tenantId,
        at: now,
        actor: input.actor,
        action: "api_key.created",
        subject: `api_key:${prefix}`,
        details: {
          name: input.name,
          permissions: [...permissions],
          store_ids: storeIds,
          agent_id: agentId ?? null,
          rate_limit: apiKey.rateLimit ?? null,
        },
      });
      return { apiKey: stored, secret: key };
    } catch (err) {
      if (attempt < 2 && err instanceof DomainError && err.reason === "already_exists") continue;
      throw err;
    }
  }
}

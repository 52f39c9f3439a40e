// Agent SDK: agents' Ed25519 public keys from the key registry (ListAgentKeys), cached with a TTL, for
// re-verifying delivered events (ves-protocol.md §2.3, §3.1). Browser-safe.
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";

export interface AgentKeyCache {
  /** The public key of (tenant, agent, key id), or undefined when the registry does not know it. */
  get(tenantId: string, agentId: string, keyId: number): Promise<Uint8Array | undefined>;
}

export interface CreateAgentKeyCacheOptions {
  readonly transport: Transport;
  readonly headers?: Record<string, string>;
  /** How long a lookup (found or not) is reused (default 60,000 ms). */
  readonly ttlMs?: number;
  /** Most agents kept (default 10,000; the oldest lookup goes first). */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly at: number;
  readonly keys: Promise<ReadonlyMap<number, Uint8Array>>;
}

export function createAgentKeyCache(opts: CreateAgentKeyCacheOptions): AgentKeyCache {
  const registry: Client<typeof KeyRegistryService> = createClient(KeyRegistryService, opts.transport);
  const ttlMs = opts.ttlMs ?? 60_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();

  function load(tenantId: string, agentId: string): Entry {
    const keys = registry
      .listAgentKeys({ tenantId, agentId, includeRevoked: true }, { headers: opts.headers ?? {} })
      .then((res) => new Map(res.keys.map((k) => [k.keyId, k.publicKey])));
    const entry = { at: now(), keys };
    keys.catch(() => entries.delete(`${tenantId}/${agentId}`)); // a failed lookup is not cached
    return entry;
  }

  return {
    async get(tenantId, agentId, keyId) {
      const id = `${tenantId}/${agentId}`;
      let e = entries.get(id);
      let fresh = false;
      if (e === undefined || now() - e.at >= ttlMs) {
        e = load(tenantId, agentId);
        fresh = true;
        entries.delete(id);
        entries.set(id, e);
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      }
      const key = (await e.keys).get(keyId);
      if (key !== undefined || fresh) return key;
      // A key id the cached entry lacks: the agent may have registered it since; look once more.
      const again = load(tenantId, agentId);
      entries.set(id, again);
      return (await again.keys).get(keyId);
    },
  };
}

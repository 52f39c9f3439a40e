// The access policy of every RPC and HTTP route (docs/protocol.md §3.3, §16.9): the permission it needs and
// what it touches (tenants, stores, agents), read from the request. FAILS CLOSED: a method or route without an
// entry here is denied, and the server refuses to start when a registered RPC has none. Adding an RPC means
// adding one line below.
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { AnchorService } from "../../gen/ves/sequencer/v1/anchor_pb.js";
import { ApiKeyService } from "../../gen/ves/sequencer/v1/api_key_pb.js";
import type { Event } from "../../gen/ves/sequencer/v1/event_pb.js";
import { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { ProofService } from "../../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../../gen/ves/sequencer/v1/sequencer_pb.js";
import { EVERY, type Requirement, type ResourceRef } from "../domain/authorize.js";
import { SEQUENCER_KEYS_PATH } from "./sequencerKeys.js";

export interface Policy {
  /** "/package.Service/Method" for an RPC (its URL path), "GET /path" for an HTTP route. */
  readonly key: string;
  /** "public": no credential needed (health, reflection, the sequencer's public keys). */
  readonly requirement: Requirement | "public";
  /**
   * What a request touches. Unary and server-streaming RPCs: applied to the request. Client-streaming and bidi
   * RPCs: applied to every message (the stream itself only needs a valid credential and the permission).
   */
  // biome-ignore lint/suspicious/noExplicitAny: the table holds policies of every request type
  readonly refs: (message: any) => readonly ResourceRef[];
  /**
   * A second requirement a message may carry besides the method's own (the read side of a sync Append
   * stream: a message that starts a subscription also needs `read` on the stream it subscribes to).
   */
  readonly also?: (
    // biome-ignore lint/suspicious/noExplicitAny: as for refs
    message: any,
  ) => { readonly requirement: Requirement; readonly refs: readonly ResourceRef[] } | undefined;
}

export function methodKey(method: Pick<DescMethod, "name" | "parent">): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function rpc<I extends DescMessage>(
  method: { readonly input: I; readonly name: string; readonly parent: DescMethod["parent"] },
  requirement: Requirement,
  refs: (message: MessageShape<I>) => readonly ResourceRef[],
): Policy {
  return { key: methodKey(method), requirement, refs };
}

/** Public RPCs: the standard health and reflection services, and the sequencer's public keys. */
function publicRpc(method: Pick<DescMethod, "name" | "parent">): Policy {
  return { key: methodKey(method), requirement: "public", refs: () => [] };
}

function route(key: string, requirement: Requirement | "public", refs: ResourceRef[] = []): Policy {
  return { key, requirement, refs: () => refs };
}

const tenant = (field: string, id: string): ResourceRef => ({ kind: "tenant", field, id });
const store = (field: string, id: string): ResourceRef => ({ kind: "store", field, id });
/** An agent id, or every agent of the tenant when the field is empty (an unfiltered listing). */
const agent = (field: string, id: string): ResourceRef => ({
  kind: "agent",
  field,
  id: id === "" ? EVERY : id,
});
const everyTenant: ResourceRef = { kind: "tenant", field: "", id: EVERY };
const everyStore: ResourceRef = { kind: "store", field: "", id: EVERY };
const everyAgent: ResourceRef = { kind: "agent", field: "", id: EVERY };
/** Tenant-wide administration: only a credential bounded to neither stores nor an agent. */
const tenantWide = (field: string, id: string): ResourceRef[] => [tenant(field, id), everyStore, everyAgent];

/** Every tenant, store and source agent of a batch: a write is allowed only if all are within the credential. */
function eventRefs(events: readonly Event[]): ResourceRef[] {
  const refs: ResourceRef[] = [];
  const seen = new Set<string>();
  const add = (ref: ResourceRef): void => {
    const k = `${ref.kind}/${ref.id.toLowerCase()}`;
    if (seen.has(k)) return;
    seen.add(k);
    refs.push(ref);
  };
  for (const [i, e] of events.entries()) {
    add(tenant(`events[${i}].tenant_id`, e.tenantId));
    add(store(`events[${i}].store_id`, e.storeId));
    add({ kind: "agent", field: `events[${i}].source_agent_id`, id: e.sourceAgentId });
  }
  return refs;
}

const S = SequencerService.method;
const K = KeyRegistryService.method;
const A = ApiKeyService.method;
const P = ProofService.method;
const N = AnchorService.method;
const streamOf = (m: { tenantId: string; storeId: string }): ResourceRef[] => [
  tenant("tenant_id", m.tenantId),
  store("store_id", m.storeId),
];

export const POLICIES: readonly Policy[] = [
  {
    ...rpc(S.append, "write", (m) => eventRefs(m.events)),
    also: (m: MessageShape<typeof S.append.input>) =>
      m.subscription === undefined
        ? undefined
        : {
            requirement: "read",
            refs: [
              tenant("subscription.tenant_id", m.subscription.tenantId),
              store("subscription.store_id", m.subscription.storeId),
            ],
          },
  },
  rpc(S.appendBatch, "write", (m) => eventRefs(m.events)),
  rpc(S.getHead, "read", (m) => [tenant("tenant_id", m.tenantId), store("store_id", m.storeId)]),
  // Public: any verifier may learn (and pin) the receipt-signing keys.
  publicRpc(S.getSequencerInfo),
  rpc(S.pullEvents, "read", (m) => [tenant("tenant_id", m.tenantId), store("store_id", m.storeId)]),
  rpc(S.getEntityHistory, "read", (m) => [tenant("tenant_id", m.tenantId), store("store_id", m.storeId)]),
  rpc(S.subscribe, "read", (m) => [tenant("tenant_id", m.tenantId), store("store_id", m.storeId)]),

  rpc(K.registerAgentKey, "admin", (m) => [
    tenant("tenant_id", m.tenantId),
    everyStore,
    agent("agent_id", m.agentId),
  ]),
  rpc(K.listAgentKeys, "read", (m) => [tenant("tenant_id", m.tenantId), agent("agent_id", m.agentId)]),
  rpc(K.revokeAgentKey, "admin", (m) => [
    tenant("tenant_id", m.tenantId),
    everyStore,
    agent("agent_id", m.agentId),
  ]),
  rpc(K.rotateAgentKey, "admin", (m) => [
    tenant("tenant_id", m.tenantId),
    everyStore,
    agent("agent_id", m.agentId),
  ]),
  // Encryption (recipient) keys: the agent itself publishes and revokes its own (a write credential bound to that
  // agent, or one bound to no agent, e.g. the tenant's admin). Like signing keys, they serve every store of the
  // tenant, so a credential limited to particular stores may not change them. Any reader of the tenant may look
  // them up: senders of every agent need their recipients' public keys.
  rpc(K.registerEncryptionKey, "write", (m) => [
    tenant("tenant_id", m.tenantId),
    everyStore,
    agent("agent_id", m.agentId),
  ]),
  rpc(K.listEncryptionKeys, "read", (m) => [tenant("tenant_id", m.tenantId)]),
  rpc(K.revokeEncryptionKey, "write", (m) => [
    tenant("tenant_id", m.tenantId),
    everyStore,
    agent("agent_id", m.agentId),
  ]),
  rpc(K.listKeyAuditLog, "admin", (m) => tenantWide("tenant_id", m.tenantId)),

  // A key can only be created within the creator's own bounds: its stores and agent, or all if unbounded.
  rpc(A.createApiKey, "admin", (m) => [
    tenant("tenant_id", m.tenantId),
    ...(m.storeIds.length === 0 ? [everyStore] : m.storeIds.map((s, i) => store(`store_ids[${i}]`, s))),
    agent("agent_id", m.agentId),
  ]),
  rpc(A.listApiKeys, "admin", (m) => tenantWide("tenant_id", m.tenantId)),
  rpc(A.revokeApiKey, "admin", (m) => tenantWide("tenant_id", m.tenantId)),

  rpc(P.getCommitment, "read", streamOf),
  rpc(P.listCommitments, "read", streamOf),
  rpc(P.getSyncState, "read", streamOf),
  rpc(P.getInclusionProof, "read", streamOf),
  rpc(P.getInclusionProofs, "read", streamOf),
  rpc(P.getConsistencyProof, "read", streamOf),
  // Stateless checks of what the caller sends: they read nothing of any tenant.
  rpc(P.verifyInclusionProof, "authenticated", () => []),
  rpc(P.verifyReceipt, "authenticated", () => []),
  rpc(P.verifyConsistencyProof, "authenticated", () => []),

  rpc(N.getAnchorStatus, "read", streamOf),
  rpc(N.verifyAnchor, "read", streamOf),
  // The standard gRPC surface: health for orchestrators and load balancers, reflection for generic clients
  // (the API's shape is public; every call it describes keeps its own policy).
  publicRpc(Health.method.check),
  publicRpc(Health.method.watch),
  publicRpc(Health.method.list),
  publicRpc(ServerReflectionV1.method.serverReflectionInfo),
  publicRpc(ServerReflectionV1alpha.method.serverReflectionInfo),

  // Health checks are for orchestrators. Metrics span every tenant: the operator's scraper credential
  // (METRICS_API_KEY) or an admin of every tenant (the bootstrap admin) may read them.
  route("GET /healthz", "public"),
  route("GET /readyz", "public"),
  route("GET /metrics", "metrics", [everyTenant]),
  route(`GET ${SEQUENCER_KEYS_PATH}`, "public"),
];

export const POLICY_TABLE: ReadonlyMap<string, Policy> = new Map(POLICIES.map((p) => [p.key, p]));

/** Methods that would be served without a policy (and so be denied to everyone). */
export function methodsWithoutPolicy(
  methods: readonly Pick<DescMethod, "name" | "parent">[],
  table: ReadonlyMap<string, Policy> = POLICY_TABLE,
): string[] {
  return methods.map(methodKey).filter((k) => !table.has(k));
}

/** Wraps route registration so the server refuses to start when a registered RPC has no policy. */
export function requirePolicies(
  routes: (router: ConnectRouter) => void,
  table: ReadonlyMap<string, Policy> = POLICY_TABLE,
): (router: ConnectRouter) => void {
  return (router) => {
    routes(router);
    const missing = methodsWithoutPolicy(
      router.handlers.map((h) => h.method),
      table,
    );
    if (missing.length > 0) {
      throw new Error(
        `no access policy for ${missing.join(", ")}: add one line per RPC to src/api/policies.ts`,
      );
    }
  };
}

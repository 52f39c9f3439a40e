// Agent SDK for Node.js: the producer of src/client/createAgent.ts with a gRPC transport built from a URL and
// native crypto (libsodium when sodium-native loads, else node:crypto; node:crypto SHA-256) for speed.
import type http2 from "node:http2";
import type { Transport } from "@connectrpc/connect";
import {
  createGrpcTransport,
  type GrpcTransportOptions,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { createPublicClient, http } from "viem";
import { AgentError } from "../client/agentError.js";
import type { AnchorUpgradesOptions } from "../client/anchorWaits.js";
import {
  type Agent,
  type CreateAgentOptions,
  createAgent as createPortableAgent,
} from "../client/createAgent.js";
import type { AgentSigner, SigningCrypto } from "../client/signEvent.js";
import { nativeSha256, serverEd25519 } from "../crypto/native.js";
import { acquireVerifyPool, MAX_VERIFY_THREADS, type VerifyPool } from "./verifyPool.js";

/** The anchored tier's options, plus an RPC URL of the anchor chain to check each anchor on (instead of `client`). */
export type NodeAnchorUpgradesOptions = AnchorUpgradesOptions & { readonly rpcUrl?: string };

export type CreateNodeAgentOptions = Omit<
  CreateAgentOptions,
  "transport" | "anchorUpgrades" | "verifyBatch"
> & {
  readonly anchorUpgrades?: boolean | NodeAnchorUpgradesOptions;
  /**
   * Worker threads that verify the receipts' Ed25519 signatures (native Ed25519) off the event loop, a batch
   * answer per message (default 0: verified on the event loop). Appends still settle in order, each after its
   * receipt verified against the pinned key(s). Agents of a process asking for the same count share one pool;
   * its threads start with the first answer and end when the last of those agents is closed or aborted.
   */
  readonly verifyThreads?: number;
} & (
    | { readonly url: string; readonly transport?: undefined }
    | { readonly transport: Transport; readonly url?: undefined }
  );

/** Native SHA-256 and Ed25519 for this process (libsodium if it loads, else OpenSSL). */
export function nodeCrypto(): SigningCrypto {
  return { sha256: nativeSha256, ed25519: serverEd25519() };
}

/** An agent signer from a 32-byte Ed25519 seed, with the native implementation. */
export function signerFromSeed(seed: Uint8Array): AgentSigner {
  return { sign: serverEd25519().createSigner(seed) };
}

/** The 32-byte Ed25519 public key of a seed. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  return serverEd25519().getPublicKey(seed);
}

/** HTTP/2 receive windows: one batch answer (up to 1,000 receipts, ~250 kB) must not wait for WINDOW_UPDATEs. */
const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 16 * 1024 * 1024;

/**
 * A gRPC (HTTP/2) transport to a sequencer URL such as http://127.0.0.1:50051, with receive windows sized for
 * batch answers. With Node's default 64 KiB windows the server stalls several times per answer waiting for the
 * client's WINDOW_UPDATE frames, which costs it CPU and the producer throughput.
 */
export function grpcTransport(url: string): Transport {
  const manager = new Http2SessionManager(url, undefined, { settings: { initialWindowSize: STREAM_WINDOW } });
  const widened = new WeakSet<http2.Http2Session>();
  const sessionManager: NonNullable<GrpcTransportOptions["sessionManager"]> = {
    authority: manager.authority,
    async request(method, path, headers, options) {
      const stream = await manager.request(method, path, headers, options);
      const session = stream.session;
      if (session !== undefined && !widened.has(session)) {
        widened.add(session);
        session.setLocalWindowSize(SESSION_WINDOW); // the connection's window; settings only set the streams'
      }
      return stream;
    },
    notifyResponseByteRead: (stream) => manager.notifyResponseByteRead(stream),
  };
  return createGrpcTransport({ baseUrl: url, sessionManager });
}

/** `rpcUrl` → a viem public client over HTTP (no retries of its own: the agent reads again on failure). */
function anchorOptions(a: boolean | NodeAnchorUpgradesOptions | undefined): boolean | AnchorUpgradesOptions {
  if (typeof a !== "object" || a.rpcUrl === undefined) return a ?? false;
  const { rpcUrl, ...rest } = a;
  if (rest.client !== undefined) {
    throw new AgentError("invalid_argument", `"anchorUpgrades" takes a client or an rpcUrl, not both`, {
      field: "anchorUpgrades.rpcUrl",
    });
  }
  return {
    ...rest,
    client: createPublicClient({ transport: http(rpcUrl, { timeout: 10_000, retryCount: 0 }) }),
  };
}

const pools = new WeakMap<Agent, VerifyPool>();

/** The verification threads of an agent made with `verifyThreads` (for tests and diagnostics; not exported by the package). */
export function verifyPoolOf(agent: Agent): VerifyPool | undefined {
  return pools.get(agent);
}

function verifyThreadCount(n: number | undefined): number {
  const v = n ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > MAX_VERIFY_THREADS) {
    throw new AgentError(
      "invalid_argument",
      `"verifyThreads" expected an integer 0..${MAX_VERIFY_THREADS}, got ${v}`,
      { field: "verifyThreads" },
    );
  }
  return v;
}

export function createAgent(opts: CreateNodeAgentOptions): Agent {
  const { url, transport, anchorUpgrades, verifyThreads, ...rest } = opts;
  const threads = verifyThreadCount(verifyThreads);
  const crypto = opts.crypto ?? nodeCrypto();
  const held = threads === 0 ? undefined : acquireVerifyPool(threads);
  const pool = held?.pool;
  const agent = createPortableAgent({
    ...rest,
    anchorUpgrades: anchorOptions(anchorUpgrades),
    transport: transport ?? grpcTransport(url as string),
    crypto,
    ...(pool === undefined ? {} : { verifyBatch: pool.verify }),
  });
  if (held === undefined || pool === undefined) return agent;
  const withPool: Agent = {
    ...agent,
    async close() {
      try {
        await agent.close();
      } finally {
        await held.release();
      }
    },
    abort() {
      agent.abort();
      void held.release();
    },
  };
  pools.set(withPool, pool);
  return withPool;
}

// npm run admin -- <command>: manage API keys and agent keys, and read the key audit log, over the sequencer's own
// API (so every change goes through the same checks, the audit log and the cross-instance invalidation as any
// other client's). Authenticates with an admin credential: --key, or VES_API_KEY, or BOOTSTRAP_ADMIN_API_KEY, or
// the development key the server generated in DATA_DIR.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ApiKey, ApiKeyService, Permission } from "../../gen/ves/sequencer/v1/api_key_pb.js";
import { ErrorDetailSchema } from "../../gen/ves/sequencer/v1/error_detail_pb.js";
import {
  type AgentKey,
  type KeyAuditEntry,
  KeyRegistryService,
  KeyStatus,
  RegisterAgentKeyRequestSchema,
  RotateAgentKeyRequestSchema,
} from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { proofOfPossession } from "../client/proofOfPossession.js";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { nobleEd25519 } from "../crypto/ed25519.js";
import { nobleSha256 } from "../crypto/sha256.js";
import { type AuditEntry, findBrokenAuditLink } from "../domain/auditLog.js";
import { BOOTSTRAP_KEY_FILE } from "../infra/bootstrapAdminKey.js";
import { defaultSequencerUrl } from "./sequencerUrl.js";

const COMMON = `Common options:
  --url URL        the sequencer (default: SEQUENCER_URL, else http://127.0.0.1:PORT, PORT default 50051)
  --key KEY        an admin credential: an API key, or "Bearer <JWT>" (default: VES_API_KEY, then
                   BOOTSTRAP_ADMIN_API_KEY, then the development key in DATA_DIR/${BOOTSTRAP_KEY_FILE})
  -h, --help       help for the command`;

const HELP: Record<string, string> = {
  "": `npm run admin -- <command> [options]

Manage API keys and agent signing keys of a running sequencer, and read the key audit log.

Commands:
  api-key create       create an API key (its secret is printed once)
  api-key list         list a tenant's API keys
  api-key revoke       revoke an API key (every instance refuses it within a second)
  agent-key register   register an agent's Ed25519 key (with proof of possession, or --generate)
  agent-key list       list an agent's or a tenant's keys, with their status now
  agent-key rotate     register a new key id and optionally end the old key's validity
  agent-key revoke     revoke an agent key (events signed with it are rejected from then on)
  audit-log            print a tenant's key audit log; --verify checks its hash chain

Run "npm run admin -- <command> --help" for a command's options.

${COMMON}`,
  "api-key create": `npm run admin -- api-key create --tenant UUID --scopes read,write[,admin] [options]

  --tenant UUID        the tenant the key belongs to
  --scopes LIST        comma-separated: read, write, admin (admin includes read and write); scrapers of
                       /metrics use the server's METRICS_API_KEY instead
  --stores LIST        comma-separated store UUIDs the key is limited to (default: every store)
  --agent UUID         bind the key to one agent: it may only append that agent's events
  --rate-limit N       requests per second, also the burst (default: no limit)
  --name TEXT          a label for people

Prints the key's metadata and its secret ("ves_<12 hex>_<43 base64url>"), which is shown only this once.
Clients send it as "authorization: ApiKey <secret>" or "x-api-key: <secret>".

${COMMON}`,
  "api-key list": `npm run admin -- api-key list --tenant UUID [--include-revoked]

Prints one JSON object per key: prefix, name, permissions, stores, agent, rate limit, creation, revocation.

${COMMON}`,
  "api-key revoke": `npm run admin -- api-key revoke --tenant UUID --prefix ves_XXXXXXXXXXXX

${COMMON}`,
  "agent-key register": `npm run admin -- agent-key register --tenant UUID --agent UUID --key-id N
                                  (--public-key HEX --pop HEX | --generate) [options]

  --public-key HEX     the agent's 32-byte Ed25519 public key
  --pop HEX            proof of possession: the 64-byte Ed25519 signature of SHA-256("VES_POP_V1" || public key)
  --generate           generate a key pair here instead, and print its seed once (give it to the agent)
  --valid-from TIME    RFC 3339 (default: now)
  --valid-to TIME      RFC 3339 (default: no end)

${COMMON}`,
  "agent-key list": `npm run admin -- agent-key list --tenant UUID [--agent UUID] [--include-revoked]

${COMMON}`,
  "agent-key rotate": `npm run admin -- agent-key rotate --tenant UUID --agent UUID --key-id OLD --new-key-id NEW
                                (--public-key HEX --pop HEX | --generate) [options]

  --old-valid-to TIME  RFC 3339, or +SECONDS from now: the old key stops being valid then (the overlap in which
                       both keys are accepted). Default: the old key keeps its validity until revoked.
  --valid-to TIME      RFC 3339: end of the new key's validity (default: no end)
  --public-key, --pop, --generate: as for agent-key register

${COMMON}`,
  "agent-key revoke": `npm run admin -- agent-key revoke --tenant UUID --agent UUID --key-id N [--reason TEXT]

${COMMON}`,
  "audit-log": `npm run admin -- audit-log --tenant UUID [--after SEQ] [--limit N] [--verify]

Prints the tenant's key audit log, oldest first, one JSON object per entry. --verify reads the whole log and
checks every entry's hash = SHA-256(prev_hash || content) and its link to the previous entry; the exit code is 3
when the chain is broken.

${COMMON}`,
};

class UsageError extends Error {}

const OPTIONS = {
  url: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
  tenant: { type: "string" },
  agent: { type: "string" },
  scopes: { type: "string" },
  stores: { type: "string" },
  "rate-limit": { type: "string" },
  name: { type: "string" },
  prefix: { type: "string" },
  "include-revoked": { type: "boolean" },
  "key-id": { type: "string" },
  "new-key-id": { type: "string" },
  "public-key": { type: "string" },
  pop: { type: "string" },
  generate: { type: "boolean" },
  "valid-from": { type: "string" },
  "valid-to": { type: "string" },
  "old-valid-to": { type: "string" },
  reason: { type: "string" },
  after: { type: "string" },
  limit: { type: "string" },
  verify: { type: "boolean" },
} as const;

function parse() {
  try {
    return parseArgs({ allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n(run with --help for usage)\n`);
    process.exit(2);
  }
}

const { values: opts, positionals } = parse();

const command = positionals.slice(0, positionals[0] === "audit-log" ? 1 : 2).join(" ");
const out = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x), 2)}\n`);
};

function need(name: keyof typeof opts): string {
  const v = opts[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

function uint(name: keyof typeof opts, fallback?: number): number {
  const raw = opts[name];
  if (raw === undefined && fallback !== undefined) return fallback;
  const n = Number(need(name));
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new UsageError(`--${name} expected an integer, got ${raw}`);
  return n;
}

function time(name: keyof typeof opts): Timestamp | undefined {
  const raw = opts[name];
  if (typeof raw !== "string") return undefined;
  const d = /^\+\d+$/.test(raw) ? new Date(Date.now() + Number(raw.slice(1)) * 1000) : new Date(raw);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(`--${name} expected an RFC 3339 time or +SECONDS, got ${raw}`);
  return timestampFromDate(d);
}

function list(name: keyof typeof opts): string[] {
  const raw = opts[name];
  return typeof raw === "string"
    ? raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
    : [];
}

function credential(): string {
  const explicit = opts.key ?? process.env.VES_API_KEY ?? process.env.BOOTSTRAP_ADMIN_API_KEY;
  if (explicit !== undefined && explicit !== "") return explicit;
  const file = path.join(process.env.DATA_DIR ?? ".data", BOOTSTRAP_KEY_FILE);
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    throw new UsageError(
      `no credential: pass --key, or set VES_API_KEY or BOOTSTRAP_ADMIN_API_KEY (no ${file} either)`,
    );
  }
}

/** The public key and proof of possession to register: given, or generated here (the seed printed once). */
function newKey(): { publicKey: Uint8Array; proofOfPossession: Uint8Array; seed?: string } {
  if (opts.generate) {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const publicKey = nobleEd25519.getPublicKey(seed);
    const pop = proofOfPossession(publicKey, { sign: nobleEd25519.createSigner(seed) });
    return { publicKey, proofOfPossession: pop, seed: bytesToHex(seed) };
  }
  return {
    publicKey: hexToBytes(need("public-key"), "--public-key", 32),
    proofOfPossession: hexToBytes(need("pop"), "--pop", 64),
  };
}

const PERMISSIONS: Record<string, Permission> = {
  read: Permission.READ,
  write: Permission.WRITE,
  admin: Permission.ADMIN,
};

const iso = (t: Timestamp | undefined): string | null =>
  t === undefined ? null : timestampDate(t).toISOString();

function showApiKey(k: ApiKey | undefined): unknown {
  if (k === undefined) return null;
  return {
    prefix: k.prefix,
    tenant_id: k.tenantId,
    name: k.name,
    permissions: k.permissions.map((p) => Permission[p].toLowerCase()),
    store_ids: k.storeIds,
    agent_id: k.agentId || null,
    rate_limit: k.rateLimit || null,
    created_at: iso(k.createdAt),
    created_by: k.createdBy,
    revoked_at: iso(k.revokedAt),
  };
}

function showAgentKey(k: AgentKey | undefined): unknown {
  if (k === undefined) return null;
  return {
    tenant_id: k.tenantId,
    agent_id: k.agentId,
    key_id: k.keyId,
    public_key: bytesToHex(k.publicKey),
    status: KeyStatus[k.status].toLowerCase(),
    valid_from: iso(k.validFrom),
    valid_to: iso(k.validTo),
    revoked_at: iso(k.revokedAt),
    revocation_reason: k.revocationReason || null,
  };
}

function showAudit(e: KeyAuditEntry): unknown {
  return {
    seq: e.seq,
    at: iso(e.at),
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    details: (JSON.parse(e.content) as { details?: unknown }).details,
    hash: bytesToHex(e.hash),
  };
}

async function run(): Promise<number> {
  if (opts.help || positionals.length === 0) {
    process.stdout.write(`${HELP[command] ?? HELP[""]}\n`);
    return 0;
  }
  if (HELP[command] === undefined) throw new UsageError(`unknown command "${positionals.join(" ")}"`);
  const key = credential();
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", /^bearer /i.test(key) ? key : `ApiKey ${key}`);
    return next(req);
  };
  const transport = createGrpcTransport({
    baseUrl: opts.url ?? defaultSequencerUrl(),
    interceptors: [auth],
  });
  const apiKeys = createClient(ApiKeyService, transport);
  const keys = createClient(KeyRegistryService, transport);
  const tenantId = need("tenant");

  switch (command) {
    case "api-key create": {
      const permissions = list("scopes").map((s) => {
        const p = PERMISSIONS[s];
        if (p === undefined) {
          throw new UsageError(
            s === "metrics"
              ? "--scopes expected read, write or admin, got metrics: the metrics scope belongs to no tenant; give scrapers the server's METRICS_API_KEY"
              : `--scopes expected read, write or admin, got ${s}`,
          );
        }
        return p;
      });
      if (permissions.length === 0) throw new UsageError("--scopes is required (read, write, admin)");
      const res = await apiKeys.createApiKey({
        tenantId,
        name: opts.name ?? "",
        permissions,
        storeIds: list("stores"),
        agentId: opts.agent ?? "",
        rateLimit: uint("rate-limit", 0),
      });
      out({ api_key: showApiKey(res.apiKey), secret: res.secret });
      process.stderr.write("The secret is shown only now: store it (the server keeps only its hash).\n");
      return 0;
    }
    case "api-key list": {
      const res = await apiKeys.listApiKeys({ tenantId, includeRevoked: opts["include-revoked"] ?? false });
      for (const k of res.apiKeys) out(showApiKey(k));
      return 0;
    }
    case "api-key revoke": {
      out(showApiKey((await apiKeys.revokeApiKey({ tenantId, prefix: need("prefix") })).apiKey));
      return 0;
    }
    case "agent-key register": {
      const k = newKey();
      const validFrom = time("valid-from");
      const validTo = time("valid-to");
      const res = await keys.registerAgentKey(
        create(RegisterAgentKeyRequestSchema, {
          tenantId,
          agentId: need("agent"),
          keyId: uint("key-id"),
          publicKey: k.publicKey,
          proofOfPossession: k.proofOfPossession,
          ...(validFrom === undefined ? {} : { validFrom }),
          ...(validTo === undefined ? {} : { validTo }),
        }),
      );
      out({ key: showAgentKey(res.key), ...(k.seed === undefined ? {} : { seed: k.seed }) });
      if (k.seed !== undefined) process.stderr.write("The seed is shown only now: give it to the agent.\n");
      return 0;
    }
    case "agent-key list": {
      const res = await keys.listAgentKeys({
        tenantId,
        agentId: opts.agent ?? "",
        includeRevoked: opts["include-revoked"] ?? false,
      });
      for (const k of res.keys) out(showAgentKey(k));
      return 0;
    }
    case "agent-key rotate": {
      const k = newKey();
      const oldValidTo = time("old-valid-to");
      const newValidTo = time("valid-to");
      const res = await keys.rotateAgentKey(
        create(RotateAgentKeyRequestSchema, {
          tenantId,
          agentId: need("agent"),
          keyId: uint("key-id"),
          newKeyId: uint("new-key-id"),
          newPublicKey: k.publicKey,
          newProofOfPossession: k.proofOfPossession,
          ...(oldValidTo === undefined ? {} : { oldValidTo }),
          ...(newValidTo === undefined ? {} : { newValidTo }),
        }),
      );
      out({
        old_key: showAgentKey(res.oldKey),
        new_key: showAgentKey(res.newKey),
        ...(k.seed === undefined ? {} : { seed: k.seed }),
      });
      if (k.seed !== undefined) process.stderr.write("The seed is shown only now: give it to the agent.\n");
      return 0;
    }
    case "agent-key revoke": {
      const res = await keys.revokeAgentKey({
        tenantId,
        agentId: need("agent"),
        keyId: uint("key-id"),
        reason: opts.reason ?? "",
      });
      out(showAgentKey(res.key));
      return 0;
    }
    case "audit-log": {
      const entries: KeyAuditEntry[] = [];
      let after = opts.verify ? 0n : BigInt(uint("after", 0));
      const limit = opts.verify ? 1000 : uint("limit", 100);
      for (;;) {
        const page = (await keys.listKeyAuditLog({ tenantId, afterSeq: after, limit })).entries;
        entries.push(...page);
        const last = page.at(-1);
        if (!opts.verify || last === undefined || page.length < limit) break;
        after = last.seq;
      }
      for (const e of entries) out(showAudit(e));
      if (!opts.verify) return 0;
      const broken = findBrokenAuditLink(
        nobleSha256,
        entries.map(
          (e): AuditEntry => ({
            tenantId: e.tenantId,
            seq: e.seq,
            at: timestampDate(e.at ?? timestampFromDate(new Date(0))),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            content: e.content,
            prevHash: e.prevHash,
            hash: e.hash,
          }),
        ),
      );
      if (broken !== undefined) {
        process.stderr.write(`audit chain BROKEN at seq ${broken.seq}\n`);
        return 3;
      }
      process.stderr.write(`audit chain verified: ${entries.length} entries\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  process.exitCode = await run();
} catch (err) {
  if (err instanceof UsageError || err instanceof RangeError || err instanceof TypeError) {
    process.stderr.write(`${err.message}\n(run with --help for usage)\n`);
    process.exitCode = 2;
  } else {
    const e = ConnectError.from(err);
    const detail = e.findDetails(ErrorDetailSchema)[0];
    process.stderr.write(
      e.code === Code.Unavailable
        ? `cannot reach the sequencer: ${e.rawMessage}\n`
        : `[${Code[e.code]}] ${e.rawMessage}${detail?.field ? ` (field ${detail.field})` : ""}\n`,
    );
    process.exitCode = 1;
  }
}

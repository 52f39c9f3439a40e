// Credentials for tests: API keys made through ApiKeyService, JWTs signed with the test secret, and a count of
// every row authentication-relevant calls could write (to prove a refused call wrote nothing).
import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { SignJWT } from "jose";
import type postgres from "postgres";
import {
  ApiKeyService,
  CreateApiKeyRequestSchema,
  Permission,
} from "../../gen/ves/sequencer/v1/api_key_pb.js";

export const TEST_JWT_SECRET = "test-jwt-secret-that-is-at-least-32-bytes-long";
export const TEST_JWT_ENV = { JWT_SECRET: TEST_JWT_SECRET };

export async function signTestJwt(claims: {
  sub: string;
  perms?: string;
  stores?: string;
  agent?: string;
  expiresInSeconds?: number;
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (claims.expiresInSeconds ?? 600);
  const body: Record<string, string> = {};
  if (claims.perms !== undefined) body.perms = claims.perms;
  if (claims.stores !== undefined) body.stores = claims.stores;
  if (claims.agent !== undefined) body.agent = claims.agent;
  return new SignJWT(body)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuer("ves-sequencer")
    .setAudience("ves-api")
    .setJti(crypto.randomUUID())
    .setIssuedAt(Math.min(now, exp - 60))
    .setNotBefore(Math.min(now, exp - 60))
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

const PERMS = { read: Permission.READ, write: Permission.WRITE, admin: Permission.ADMIN } as const;

export async function createTestApiKey(
  admin: Transport,
  opts: {
    tenantId: string;
    perms: (keyof typeof PERMS)[];
    storeIds?: string[];
    agentId?: string;
    rateLimit?: number;
    name?: string;
  },
): Promise<{ secret: string; prefix: string }> {
  const res = await createClient(ApiKeyService, admin).createApiKey(
    create(CreateApiKeyRequestSchema, {
      tenantId: opts.tenantId,
      name: opts.name ?? "test",
      permissions: opts.perms.map((p) => PERMS[p]),
      storeIds: opts.storeIds ?? [],
      agentId: opts.agentId ?? "",
      rateLimit: opts.rateLimit ?? 0,
    }),
  );
  return { secret: res.secret, prefix: res.apiKey?.prefix as string };
}

/** Rows of every table a call could write. */
export async function rowCounts(sql: postgres.Sql): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, bigint>[]>`
    select (select count(*) from events) as events,
           (select count(*) from streams) as streams,
           (select count(*) from entity_versions) as entity_versions,
           (select count(*) from agent_keys) as agent_keys,
           (select count(*) from agent_keys where revoked_at is not null) as revoked_agent_keys,
           (select count(*) from agent_keys where valid_to is not null) as bounded_agent_keys,
           (select count(*) from api_keys) as api_keys,
           (select count(*) from api_keys where revoked_at is not null) as revoked_api_keys,
           (select count(*) from encryption_keys) as encryption_keys,
           (select count(*) from encryption_keys where revoked_at is not null) as revoked_encryption_keys,
           (select count(*) from key_audit_log) as key_audit_log`;
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

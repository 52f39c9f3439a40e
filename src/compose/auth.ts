// The credentials step of the composition root: the bootstrap admin key, JWT verification, the API-key cache
// and its cross-instance invalidation, and the one gate every RPC and route passes.
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { createAuthGate } from "../api/authGate.js";
import type { AuthenticateDeps } from "../app/authenticate.js";
import { createRateLimiter } from "../app/rateLimiter.js";
import type { Config } from "../config.js";
import { utf8 } from "../crypto/bytes.js";
import { constantTimeEqual, nativeSha256 } from "../crypto/native.js";
import { loadOrCreateDevBootstrapKey } from "../infra/bootstrapAdminKey.js";
import { createCachedApiKeyLookup } from "../infra/cachedApiKeyLookup.js";
import { findApiKey } from "../infra/pg/pgApiKeyStore.js";
import { listenAuthChanges } from "../infra/pg/pgAuthChanges.js";

export interface Auth {
  readonly gate: ReturnType<typeof createAuthGate>;
  readonly apiKeys: ReturnType<typeof createCachedApiKeyLookup>;
  stop(): Promise<void>;
}

/** Credentials: the bootstrap admin key, JWT verification, the API-key cache and its cross-instance invalidation. */
export async function startAuth(
  config: Config,
  sql: Sql,
  clock: { now(): Date },
  log: Logger,
): Promise<Auth> {
  const { auth } = config;
  let bootstrapKey = auth.bootstrapAdminKey;
  if (auth.mode === "disabled") {
    log.warn(
      "AUTH_MODE=disabled: every request runs as an admin of every tenant (development and test only)",
    );
  } else if (bootstrapKey === undefined && config.env === "development") {
    const dev = await loadOrCreateDevBootstrapKey(config.dataDir);
    bootstrapKey = dev.key;
    log.info(
      { file: dev.file },
      dev.created ? "generated a development bootstrap admin key" : "development bootstrap admin key loaded",
    );
  } else if (bootstrapKey === undefined && auth.jwtSecret === undefined) {
    log.warn(
      "neither BOOTSTRAP_ADMIN_API_KEY nor JWT_SECRET is set: only API keys already in the database work",
    );
  }
  const apiKeys = createCachedApiKeyLookup((prefix) => findApiKey(sql, prefix), {
    ttlMs: auth.cacheTtlMs,
    clock,
  });
  let listener: { stop(): Promise<void> } | undefined;
  if (auth.mode === "required") {
    try {
      listener = await listenAuthChanges(
        sql,
        (change) => apiKeys.forget(change.prefix),
        () => apiKeys.clear(),
      );
    } catch (err) {
      log.warn(
        { err },
        "LISTEN failed: API-key revocations reach this instance only through AUTH_CACHE_TTL_MS",
      );
    }
  }
  const authn: AuthenticateDeps = {
    apiKeys,
    // jose is imported only when JWTs are configured.
    tokens:
      auth.jwtSecret === undefined
        ? undefined
        : (await import("../infra/joseTokenVerifier.js")).createJoseTokenVerifier({
            secret: auth.jwtSecret,
            issuer: auth.jwtIssuer,
            audience: auth.jwtAudience,
            clockToleranceSeconds: 5,
          }),
    bootstrapKeyHash: bootstrapKey === undefined ? undefined : nativeSha256(utf8(bootstrapKey)),
    metricsKeyHash: auth.metricsApiKey === undefined ? undefined : nativeSha256(utf8(auth.metricsApiKey)),
    sha256: nativeSha256,
    constantTimeEqual,
    clock,
  };
  return {
    gate: createAuthGate({ mode: auth.mode, authn, limiter: createRateLimiter(clock) }),
    apiKeys,
    stop: async () => {
      await listener?.stop();
    },
  };
}

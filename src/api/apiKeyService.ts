// ApiKeyService: create (the secret is returned once), list and revoke API keys of a tenant.
import type { ServiceImpl } from "@connectrpc/connect";
import type { ApiKeyService } from "../../gen/ves/sequencer/v1/api_key_pb.js";
import { type ApiKeyDeps, createApiKey } from "../app/createApiKey.js";
import { listApiKeys } from "../app/listApiKeys.js";
import type { ApiKeyLookup } from "../app/ports.js";
import { revokeApiKey } from "../app/revokeApiKey.js";
import { actorOf } from "./context.js";
import { apiKeyToProto, permissionNames } from "./convert.js";

export interface ApiKeyServiceDeps extends ApiKeyDeps {
  readonly lookup: ApiKeyLookup;
}

export function createApiKeyService(deps: ApiKeyServiceDeps): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(req, ctx) {
      const { apiKey, secret } = await createApiKey(deps, {
        tenantId: req.tenantId,
        name: req.name,
        permissions: permissionNames(req.permissions),
        storeIds: req.storeIds,
        agentId: req.agentId,
        rateLimit: req.rateLimit,
        actor: actorOf(ctx.values),
      });
      return { apiKey: apiKeyToProto(apiKey), secret };
    },

    async listApiKeys(req) {
      const keys = await listApiKeys(deps, req.tenantId, req.includeRevoked);
      return { apiKeys: keys.map(apiKeyToProto) };
    },

    async revokeApiKey(req, ctx) {
      const key = await revokeApiKey(deps, req.tenantId, req.prefix, actorOf(ctx.values));
      return { apiKey: apiKeyToProto(key) };
    },
  };
}

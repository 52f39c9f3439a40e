// KeyRegistryService: register (with proof of possession), list and revoke agent keys.
import type { ServiceImpl } from "@connectrpc/connect";
import type { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { type AgentKeyDeps, listAgentKeys, registerAgentKey, revokeAgentKey } from "../app/agentKeys.js";
import { keyStatusAt } from "../domain/agentKey.js";
import { agentKeyToProto, optionalDate } from "./convert.js";

export function createKeyRegistryService(deps: AgentKeyDeps): ServiceImpl<typeof KeyRegistryService> {
  return {
    async registerAgentKey(req) {
      const key = await registerAgentKey(deps, {
        tenantId: req.tenantId,
        agentId: req.agentId,
        keyId: req.keyId,
        publicKey: req.publicKey,
        proofOfPossession: req.proofOfPossession,
        validFrom: optionalDate(req.validFrom),
        validTo: optionalDate(req.validTo),
      });
      return { key: agentKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },

    async listAgentKeys(req) {
      const keys = await listAgentKeys(deps, req.tenantId, req.agentId, req.includeRevoked);
      const now = deps.clock.now();
      return { keys: keys.map((k) => agentKeyToProto(k, keyStatusAt(k, now))) };
    },

    async revokeAgentKey(req) {
      const key = await revokeAgentKey(deps, req.tenantId, req.agentId, req.keyId, req.reason);
      return { key: agentKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },
  };
}

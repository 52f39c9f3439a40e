// KeyRegistryService: register (with proof of possession), list, revoke and rotate agent keys, and read the
// key audit log. The caller (for the audit log) comes from the auth interceptor.
import type { ServiceImpl } from "@connectrpc/connect";
import type { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { listAgentKeys } from "../app/listAgentKeys.js";
import { listEncryptionKeys } from "../app/listEncryptionKeys.js";
import { listKeyAuditLog } from "../app/listKeyAuditLog.js";
import type { AgentKeyDeps, AuditLogReader, EncryptionKeyDeps } from "../app/ports.js";
import { registerAgentKey } from "../app/registerAgentKey.js";
import { registerEncryptionKey } from "../app/registerEncryptionKey.js";
import { revokeAgentKey } from "../app/revokeAgentKey.js";
import { revokeEncryptionKey } from "../app/revokeEncryptionKey.js";
import { rotateAgentKey } from "../app/rotateAgentKey.js";
import { keyStatusAt } from "../domain/agentKey.js";
import { actorOf } from "./context.js";
import { agentKeyToProto, auditEntryToProto, encryptionKeyToProto, optionalDate } from "./convert.js";

export interface KeyRegistryServiceDeps extends AgentKeyDeps, EncryptionKeyDeps {
  readonly audit: AuditLogReader;
}

export function createKeyRegistryService(
  deps: KeyRegistryServiceDeps,
): ServiceImpl<typeof KeyRegistryService> {
  return {
    async registerAgentKey(req, ctx) {
      const key = await registerAgentKey(deps, {
        tenantId: req.tenantId,
        agentId: req.agentId,
        keyId: req.keyId,
        publicKey: req.publicKey,
        proofOfPossession: req.proofOfPossession,
        validFrom: optionalDate(req.validFrom),
        validTo: optionalDate(req.validTo),
        actor: actorOf(ctx.values),
      });
      return { key: agentKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },

    async listAgentKeys(req) {
      const keys = await listAgentKeys(deps, req.tenantId, req.agentId, req.includeRevoked);
      const now = deps.clock.now();
      return { keys: keys.map((k) => agentKeyToProto(k, keyStatusAt(k, now))) };
    },

    async revokeAgentKey(req, ctx) {
      const key = await revokeAgentKey(
        deps,
        req.tenantId,
        req.agentId,
        req.keyId,
        req.reason,
        actorOf(ctx.values),
      );
      return { key: agentKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },

    async rotateAgentKey(req, ctx) {
      const { oldKey, newKey } = await rotateAgentKey(deps, {
        tenantId: req.tenantId,
        agentId: req.agentId,
        keyId: req.keyId,
        newKeyId: req.newKeyId,
        newPublicKey: req.newPublicKey,
        newProofOfPossession: req.newProofOfPossession,
        newValidFrom: optionalDate(req.newValidFrom),
        newValidTo: optionalDate(req.newValidTo),
        oldValidTo: optionalDate(req.oldValidTo),
        actor: actorOf(ctx.values),
      });
      const now = deps.clock.now();
      return {
        oldKey: agentKeyToProto(oldKey, keyStatusAt(oldKey, now)),
        newKey: agentKeyToProto(newKey, keyStatusAt(newKey, now)),
      };
    },

    async listKeyAuditLog(req) {
      const entries = await listKeyAuditLog(deps.audit, req.tenantId, req.afterSeq, req.limit);
      return { entries: entries.map(auditEntryToProto) };
    },

    async registerEncryptionKey(req, ctx) {
      const key = await registerEncryptionKey(deps, {
        tenantId: req.tenantId,
        agentId: req.agentId,
        recipientKid: req.recipientKid,
        publicKey: req.publicKey,
        validFrom: optionalDate(req.validFrom),
        validTo: optionalDate(req.validTo),
        actor: actorOf(ctx.values),
      });
      return { key: encryptionKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },

    async listEncryptionKeys(req) {
      const keys = await listEncryptionKeys(deps, req.tenantId, req.agentId, req.includeRevoked);
      const now = deps.clock.now();
      return { keys: keys.map((k) => encryptionKeyToProto(k, keyStatusAt(k, now))) };
    },

    async revokeEncryptionKey(req, ctx) {
      const key = await revokeEncryptionKey(
        deps,
        req.tenantId,
        req.agentId,
        req.recipientKid,
        req.reason,
        actorOf(ctx.values),
      );
      return { key: encryptionKeyToProto(key, keyStatusAt(key, deps.clock.now())) };
    },
  };
}

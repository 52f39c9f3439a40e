// Agent SDK: the recipients of an encrypted payload, from the key registry: every active X25519 encryption key
// the given agents published (RegisterEncryptionKey), ready for encryptPayload / signEncryptedEvent.
// Browser-safe.
import type { CallOptions, Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type KeyRegistryService, KeyStatus } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
import { AgentError } from "./agentError.js";
import type { PayloadRecipient } from "./encryptPayload.js";

/**
 * Every active encryption key of each agent (sorted by kid). Throws AgentError("invalid_argument", code
 * "no_encryption_key") when an agent has none, so a payload is never sealed without one of its readers, and
 * AgentError with the gRPC code's reason when the registry refuses the call.
 */
export async function lookupRecipients(
  client: Client<typeof KeyRegistryService>,
  tenantId: string,
  agentIds: readonly string[],
  callOptions: CallOptions = {},
): Promise<PayloadRecipient[]> {
  const unique = [...new Set(agentIds.map((a) => a.toLowerCase()))];
  const found = await Promise.all(
    unique.map(async (agentId) => {
      let keys: Awaited<ReturnType<typeof client.listEncryptionKeys>>["keys"];
      try {
        ({ keys } = await client.listEncryptionKeys({ tenantId, agentId }, callOptions));
      } catch (err) {
        const e = ConnectError.from(err);
        const reason =
          e.code === Code.Unauthenticated
            ? "unauthenticated"
            : e.code === Code.PermissionDenied
              ? "permission_denied"
              : e.code === Code.InvalidArgument
                ? "invalid_argument"
                : "unavailable";
        throw new AgentError(
          reason,
          `looking up the encryption keys of agent ${agentId}: [${Code[e.code]}] ${e.rawMessage}`,
          {
            code: Code[e.code],
            cause: err,
          },
        );
      }
      const active = keys.filter((k) => k.status === KeyStatus.ACTIVE);
      if (active.length === 0) {
        throw new AgentError(
          "invalid_argument",
          `agent ${agentId} has no active encryption key in tenant ${tenantId}: it must publish one (RegisterEncryptionKey) before it can be sent encrypted payloads`,
          { code: "no_encryption_key", field: "agentIds", actual: agentId },
        );
      }
      return active.map((k): PayloadRecipient => ({ kid: k.recipientKid, publicKey: k.publicKey }));
    }),
  );
  return found.flat().sort((a, b) => a.kid - b.kid);
}

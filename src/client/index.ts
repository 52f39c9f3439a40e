// The agent SDK's public surface (package entry "ves-sequencer"): browser-safe, no server code, no Node built-ins.
// Everything else under src/ is internal.
export { ApiKeyService } from "../../gen/ves/sequencer/v1/api_key_pb.js";
export * from "../../gen/ves/sequencer/v1/event_pb.js";
export { KeyRegistryService } from "../../gen/ves/sequencer/v1/key_registry_pb.js";
export * from "../../gen/ves/sequencer/v1/proof_pb.js";
export * from "../../gen/ves/sequencer/v1/sequencer_pb.js";
export { bytesToHex, hexToBytes } from "../crypto/bytes.js";
export { type Ed25519, nobleEd25519 } from "../crypto/ed25519.js";
export { nobleSha256, type Sha256 } from "../crypto/sha256.js";
export { AgentError, type AgentErrorReason, isAgentError } from "./agentError.js";
export type { AnchoredEvent, AnchorUpgradesOptions } from "./anchorWaits.js";
export {
  type Agent,
  type AgentEvent,
  type AgentStats,
  type AppendResult,
  type ConnectionEvent,
  type CreateAgentOptions,
  createAgent,
  type ReconnectOptions,
  type SealedEvent,
} from "./createAgent.js";
export {
  type AgentKeyCache,
  type CreateAgentKeyCacheOptions,
  createAgentKeyCache,
} from "./createAgentKeyCache.js";
export { formatCreatedAt } from "./createdAt.js";
export {
  type CreateReaderOptions,
  createReader,
  type PullOptions,
  type PullPage,
  type Reader,
  type SubscribeOptions,
} from "./createReader.js";
export {
  decryptPayload,
  type EncryptedEventToOpen,
  generateRecipientKey,
  type RecipientKey,
} from "./decryptPayload.js";
export {
  type EncryptedPayloadParts,
  type EncryptedPayloadResult,
  type EncryptionContext,
  encryptPayload,
  type PayloadRecipient,
  VES_ENC_1_HPKE,
} from "./encryptPayload.js";
export { lookupRecipients } from "./lookupRecipients.js";
export { proofOfPossession } from "./proofOfPossession.js";
export { signEncryptedEvent } from "./signEncryptedEvent.js";
export {
  type AgentSigner,
  portableCrypto,
  type SignedEvent,
  type SigningCrypto,
  signEvent,
  type UnsignedEvent,
} from "./signEvent.js";
export { signedEventFromProto, signedEventToProto } from "./toProto.js";
export { verifyCheckpointSignature } from "./verifyCheckpointSignature.js";
export { verifyConsistency } from "./verifyConsistency.js";
export { verifyInclusionProof } from "./verifyInclusionProof.js";
export { verifyReceipt } from "./verifyReceipt.js";
export { verifySequencedEvent } from "./verifySequencedEvent.js";

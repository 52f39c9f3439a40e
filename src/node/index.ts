// The agent SDK's Node.js entry point (package entry "ves-sequencer/node"): the producer with a gRPC transport
// from a URL and native crypto. Import the portable parts (verify functions, types) from "ves-sequencer".
export {
  type CreateNodeAgentOptions,
  createAgent,
  grpcTransport,
  type NodeAnchorUpgradesOptions,
  nodeCrypto,
  publicKeyFromSeed,
  signerFromSeed,
} from "./createAgent.js";

// ves register-key: register an agent's Ed25519 key with the sequencer, with its proof of possession (§2.7).
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { KeyRegistryService, KeyStatus } from "../../../gen/ves/sequencer/v1/key_registry_pb.js";
import { proofOfPossession } from "../../client/proofOfPossession.js";
import { bytesToHex } from "../../crypto/bytes.js";
import { nodeCrypto, signerFromSeed } from "../../node/createAgent.js";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  connection,
  EXIT,
  type Io,
  intOption,
  line,
  readKeyFile,
  required,
  uuidOption,
} from "./common.js";

export const REGISTER_KEY_HELP = `ves register-key --tenant UUID --agent UUID --key-id N --key-file FILE

Registers the public key of FILE (from "ves keygen") as key N of the agent, signing the proof of possession
with its seed. Needs an admin credential of the tenant.

  --tenant UUID     (VES_TENANT)
  --agent UUID      (VES_AGENT)
  --key-id N        1..4294967295 (VES_KEY_ID)
  --key-file FILE   (VES_KEY_FILE)

${COMMON_HELP}`;

export async function registerKey(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      tenant: { type: "string" },
      agent: { type: "string" },
      "key-id": { type: "string" },
      "key-file": { type: "string" },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${REGISTER_KEY_HELP}\n`);
    return EXIT.ok;
  }
  const tenantId = uuidOption(values.tenant, "--tenant", "VES_TENANT", io);
  const agentId = uuidOption(values.agent, "--agent", "VES_AGENT", io);
  const keyId = intOption(values["key-id"] ?? io.env.VES_KEY_ID, "--key-id", 1, 2 ** 32 - 1);
  const key = readKeyFile(required(values["key-file"], "--key-file", "VES_KEY_FILE", io));
  const conn = connection(values, io);
  const pop = proofOfPossession(key.publicKey, signerFromSeed(key.seed), nodeCrypto());
  const res = await createClient(KeyRegistryService, conn.transport).registerAgentKey(
    { tenantId, agentId, keyId, publicKey: key.publicKey, proofOfPossession: pop },
    { headers: conn.headers },
  );
  line(io.stdout, {
    tenantId,
    agentId,
    keyId,
    publicKey: bytesToHex(key.publicKey),
    status: res.key === undefined ? "registered" : (KeyStatus[res.key.status] ?? "unknown").toLowerCase(),
  });
  return EXIT.ok;
}

// ves keygen: a new Ed25519 agent key (seed and public key), written to a file only its owner can read.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { bytesToHex } from "../../crypto/bytes.js";
import { publicKeyFromSeed } from "../../node/createAgent.js";
import { EXIT, type Io, line, UsageError } from "./common.js";

export const KEYGEN_HELP = `ves keygen [--out FILE]

Generates an Ed25519 agent key. With --out, writes {"seed","publicKey"} (hex) to FILE with mode 0600 (an
existing file is never overwritten) and prints the public key; without it, prints the JSON to stdout.
Register the key with "ves register-key --key-file FILE".`;

export async function keygen(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${KEYGEN_HELP}\n`);
    return EXIT.ok;
  }
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const key = { seed: bytesToHex(seed), publicKey: bytesToHex(publicKeyFromSeed(seed)) };
  if (values.out === undefined) {
    line(io.stdout, key);
    return EXIT.ok;
  }
  try {
    writeFileSync(values.out, `${JSON.stringify(key)}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    throw new UsageError(`cannot write "${values.out}": ${(err as Error).message}`);
  }
  line(io.stdout, { publicKey: key.publicKey, file: values.out });
  return EXIT.ok;
}

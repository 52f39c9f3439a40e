#!/usr/bin/env node
import { COMMON_HELP, EXIT, type Io, report } from "./common.js";
// ves: the agent command line. Keys, appending events through the SDK producer, reading and exporting a stream
// with every event verified, checking receipts and proofs, and the sequencer's status. See "ves --help".
import { EMIT_HELP, emit } from "./emit.js";
import { KEYGEN_HELP, keygen } from "./keygen.js";
import { REGISTER_KEY_HELP, registerKey } from "./registerKey.js";
import { STATUS_HELP, status } from "./status.js";
import { EXPORT_HELP, exportEvents, TAIL_HELP, tail } from "./tail.js";
import { VERIFY_HELP, verify } from "./verify.js";

const HELP = `ves <command> [options]

The VES agent command line: sign and append events, read them back verified, check receipts and proofs.

Commands:
  keygen         generate an Ed25519 agent key
  register-key   register an agent key with the sequencer (proof of possession)
  emit           append events (flags or NDJSON) through the batching, verifying producer
  tail           print a stream's events, verified; --follow for the live tail
  export         write a stream's events as NDJSON (protobuf JSON), verified
  verify         check a receipt, an inclusion proof or a consistency proof, from a file or the server
  status         the sequencer's identity, keys and limits, and a stream's head

Run "ves <command> --help" for its options.

Exit codes: 0 ok; 1 something was rejected or did not verify; 2 bad usage; 3 sequencer unreachable;
4 credential refused; 5 the server's answer did not verify (forged receipt or tampered event).

${COMMON_HELP}`;

const COMMANDS: Record<string, { run: (args: string[], io: Io) => Promise<number>; help: string }> = {
  keygen: { run: keygen, help: KEYGEN_HELP },
  "register-key": { run: registerKey, help: REGISTER_KEY_HELP },
  emit: { run: emit, help: EMIT_HELP },
  tail: { run: tail, help: TAIL_HELP },
  export: { run: exportEvents, help: EXPORT_HELP },
  verify: { run: verify, help: VERIFY_HELP },
  status: { run: status, help: STATUS_HELP },
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${HELP}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`ves: unknown command "${name}" (see ves --help)\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) {
      io.stderr.write(`ves ${name}: ${err.message} (see ves ${name} --help)\n`);
      return EXIT.usage;
    }
    return report(err, io);
  }
}

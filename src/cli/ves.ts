#!/usr/bin/env node
// ves: the agent command line (the package's bin). Keys, appending events through the SDK producer, reading and
// exporting a stream with every event verified, checking receipts and proofs, the sequencer's status.
import { main } from "./ves/main.js";

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

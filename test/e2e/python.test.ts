// End to end with a non-JavaScript client: test/e2e/python/client.py (Debian's python3-grpcio, python3-protobuf,
// python3-cryptography; stubs generated here with python3-grpc-tools) registers a key with proof of possession,
// pipelines signed events through Append against a sequencer child process, and verifies every receipt itself.
// This file then re-checks what the database holds against the TypeScript implementation of VES v1.0.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hexToBytes } from "../../src/crypto/bytes.js";
import { nobleEd25519 } from "../../src/crypto/ed25519.js";
import { eventSigningHash } from "../../src/crypto/eventSigningHash.js";
import { nativeSha256, sodiumEd25519 } from "../../src/crypto/native.js";
import { receiptHash } from "../../src/crypto/receiptHash.js";
import { nobleSha256 } from "../../src/crypto/sha256.js";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { debianPythonEnv, missingPythonPackages, PYTHON_INSTALL_COMMAND } from "../support/pythonDeps.js";
import {
  REPO_ROOT,
  type SequencerProcess,
  spawnSequencer,
  TEST_ADMIN_KEY,
  testIdentity,
} from "../support/sequencer.js";

const run = promisify(execFile);

const PROTO_DIR = path.join(REPO_ROOT, "proto");
const CLIENT = path.join(REPO_ROOT, "test", "e2e", "python", "client.py");
const VECTORS = path.join(REPO_ROOT, "test", "vectors", "ves-v1.json");
const BATCHES = 2;
const PER_BATCH = 5;
const N = BATCHES * PER_BATCH;

interface Summary {
  ok: boolean;
  known_answers: number;
  tenant_id: string;
  store_id: string;
  agent_id: string;
  agent_public_key: string;
  sequencer_id: string;
  sequencer_public_key: string;
  batch_ids: string[];
  sent_before_first_response: number;
  events: { event_id: string; signing_hash: string }[];
  sequences: number[];
  verified_receipts: number;
  tampered_receipt_rejected: boolean;
  head_sequence: number;
  grpc_version: string;
  protobuf_version: string;
}

const pythonEnv = debianPythonEnv();

async function python(args: string[], timeout = 60_000): Promise<{ stdout: string; stderr: string }> {
  return run("sh", ["-c", 'command -p python3 "$@"', "python3", ...args], {
    env: pythonEnv,
    timeout,
    maxBuffer: 16 * 1024 * 1024,
  });
}

// Skipped, by name and with the install command, when Debian's packages are missing; under CI=true a missing
// package fails the run instead (.ci/run installs them).
const MISSING = missingPythonPackages();
const SKIP = MISSING.length > 0 && process.env.CI !== "true";
const SKIP_NOTE = `missing ${MISSING.join(", ")}; install with: ${PYTHON_INSTALL_COMMAND}`;
if (SKIP) console.warn(`test/e2e/python.test.ts skipped: ${SKIP_NOTE}`);

/**
 * Generates the Python stubs into `out` with Debian's protoc (3.21, which knows proto3 `optional`) and its gRPC
 * Python plugin. python3-grpc-tools 1.14 bundles libprotoc 3.5.1, which refuses `optional`; it only supplies the
 * well-known types' .proto files here.
 */
async function generateStubs(out: string): Promise<void> {
  const { stdout: include } = await python([
    "-c",
    "import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'))",
  ]);
  const rel = path.join("ves", "sequencer", "v1");
  const files = readdirSync(path.join(PROTO_DIR, rel)).filter((f) => f.endsWith(".proto"));
  const stubs = path.join(out, "stubs");
  await mkdir(stubs);
  await run("protoc", [
    `-I${PROTO_DIR}`,
    `-I${include.trim()}`,
    `--python_out=${stubs}`,
    `--grpc_python_out=${stubs}`,
    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
    ...files.map((f) => path.join(PROTO_DIR, rel, f)),
  ]);
}

let db: TestDatabase;
let seq: SequencerProcess;
let sql: postgres.Sql;
let work: string;
const identity = testIdentity();

beforeAll(async () => {
  if (SKIP) return;
  if (MISSING.length > 0) throw new Error(`CI=true and the Python end-to-end test cannot run: ${SKIP_NOTE}`);
  work = mkdtempSync(path.join(tmpdir(), "ves-e2e-python-"));
  db = await createTestDatabase("ves_e2e_python");
  [seq] = await Promise.all([spawnSequencer(db.url, identity), generateStubs(work)]);
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  if (seq !== undefined) {
    const code = await seq.stop();
    expect(code, `sequencer exit code; its output:\n${seq.output()}`).toBe(0);
  }
  await db?.drop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe.skipIf(SKIP)(`Python grpcio client${SKIP ? ` (skipped: ${SKIP_NOTE})` : ""}`, () => {
  it("registers a key, pipelines signed events through Append and verifies every receipt", async () => {
    let result: { stdout: string; stderr: string };
    try {
      result = await python([
        CLIENT,
        "--target",
        `127.0.0.1:${seq.port}`,
        "--stubs",
        path.join(work, "stubs"),
        "--vectors",
        VECTORS,
        "--batches",
        String(BATCHES),
        "--per-batch",
        String(PER_BATCH),
        "--api-key",
        TEST_ADMIN_KEY,
      ]);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `client.py failed: ${e.message}\nstdout:\n${e.stdout ?? ""}\nstderr:\n${e.stderr ?? ""}`,
      );
    }
    const lines = result.stdout.trim().split("\n");
    const s = JSON.parse(lines[lines.length - 1] ?? "") as Summary;

    expect(s.ok).toBe(true);
    expect(s.known_answers).toBeGreaterThanOrEqual(11);
    // Python verified receipts against the key GetSequencerInfo gave it: the configured one.
    const configuredKey = sodiumEd25519.getPublicKey(hexToBytes(identity.SEQUENCER_SIGNING_KEY));
    expect(s.sequencer_public_key).toBe(Buffer.from(configuredKey).toString("hex"));
    expect(s.sequencer_id).toBe(identity.SEQUENCER_ID);
    // Two batches were on the wire before the first answer, and each answer carried its batch id, in order.
    expect(s.sent_before_first_response).toBe(BATCHES);
    expect(s.batch_ids).toHaveLength(BATCHES);
    expect(new Set(s.batch_ids).size).toBe(BATCHES);
    expect(s.sequences).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(s.verified_receipts).toBe(N);
    expect(s.tampered_receipt_rejected).toBe(true);
    expect(s.head_sequence).toBe(N);

    // The key registered from Python is the one stored.
    const [key] = await sql<{ public_key: Uint8Array }[]>`
      select public_key from agent_keys where tenant_id = ${s.tenant_id} and agent_id = ${s.agent_id} and key_id = 1`;
    expect(Buffer.from(key?.public_key ?? []).toString("hex")).toBe(s.agent_public_key);

    // The log holds exactly N events, 1..N, and each re-verifies with the TypeScript implementation: Python's
    // signing preimage and ours agree byte for byte, and the stored receipt is the sequencer's.
    const rows = await sql<
      {
        sequence_number: string;
        event_id: string;
        ves_version: number;
        source_agent_id: string;
        agent_key_id: string;
        entity_type: string;
        entity_id: string;
        event_type: string;
        created_at: string;
        payload: Uint8Array;
        payload_plain_hash: Uint8Array;
        payload_cipher_hash: Uint8Array;
        event_signing_hash: Uint8Array;
        agent_signature: Uint8Array;
        receipt_hash: Uint8Array;
        sequencer_signature: Uint8Array;
      }[]
    >`
      select sequence_number::text, event_id::text, ves_version, source_agent_id::text, agent_key_id::text,
             entity_type, entity_id, event_type, created_at, payload, payload_plain_hash, payload_cipher_hash,
             event_signing_hash, agent_signature, receipt_hash, sequencer_signature
      from events where tenant_id = ${s.tenant_id} and store_id = ${s.store_id} order by events.sequence_number`;
    expect(rows).toHaveLength(N);
    const agentKey = hexToBytes(s.agent_public_key);
    for (const [i, row] of rows.entries()) {
      const sent = s.events[i];
      expect(row.sequence_number).toBe(String(i + 1));
      expect(row.event_id).toBe(sent?.event_id);
      const signingHash = eventSigningHash(nobleSha256, {
        vesVersion: row.ves_version,
        tenantId: s.tenant_id,
        storeId: s.store_id,
        eventId: row.event_id,
        sourceAgentId: row.source_agent_id,
        agentKeyId: Number(row.agent_key_id),
        entityType: row.entity_type,
        entityId: row.entity_id,
        eventType: row.event_type,
        createdAt: row.created_at,
        payloadKind: 0,
        payloadPlainHash: row.payload_plain_hash,
        payloadCipherHash: row.payload_cipher_hash,
      });
      expect(Buffer.from(signingHash).toString("hex")).toBe(sent?.signing_hash);
      expect(Buffer.from(row.event_signing_hash).equals(signingHash)).toBe(true);
      expect(nobleEd25519.verify(row.agent_signature, signingHash, agentKey)).toBe(true);
      const rh = receiptHash(nativeSha256, {
        tenantId: s.tenant_id,
        storeId: s.store_id,
        eventId: row.event_id,
        sequenceNumber: BigInt(i + 1),
        eventSigningHash: signingHash,
      });
      expect(Buffer.from(row.receipt_hash).equals(rh)).toBe(true);
      expect(nobleEd25519.verify(row.sequencer_signature, rh, configuredKey)).toBe(true);
      // Python's json.dumps output is stored byte for byte, non-ASCII included.
      expect(JSON.parse(Buffer.from(row.payload).toString("utf8"))).toMatchObject({
        n: i + 1,
        note: "café ✓",
      });
    }
  });
});

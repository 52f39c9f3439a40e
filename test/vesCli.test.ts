// The ves command line against a real server, run in-process through its dispatcher with captured streams:
// every command, its --help, its output and the exit codes scripts rely on.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { toJsonString } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GetConsistencyProofResponseSchema,
  GetInclusionProofResponseSchema,
  ProofService,
} from "../gen/ves/sequencer/v1/proof_pb.js";
import { EXIT, type Io } from "../src/cli/ves/common.js";
import { main } from "../src/cli/ves/main.js";
import { bytesToHex } from "../src/crypto/bytes.js";
import type { Sequencer } from "../src/main.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestSequencer, TEST_ADMIN_KEY, testTransport } from "./support/sequencer.js";

let db: TestDatabase;
let server: Sequencer;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestSequencer(db.url, { COMMIT_MAX_AGE_MS: "100", COMMIT_POLL_MS: "50" });
  dir = mkdtempSync(path.join(tmpdir(), "ves-cli-"));
  env = {
    SEQUENCER_URL: server.url,
    VES_API_KEY: TEST_ADMIN_KEY,
    VES_SEQUENCER_KEY: bytesToHex(server.publicKey),
    VES_TENANT: crypto.randomUUID(),
    VES_STORE: crypto.randomUUID(),
    VES_AGENT: crypto.randomUUID(),
    VES_KEY_ID: "1",
    VES_KEY_FILE: path.join(dir, "agent.key"),
  };
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

interface Run {
  code: number;
  out: string;
  err: string;
  lines: Record<string, unknown>[];
}

async function ves(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string | undefined>; tty?: boolean } = {},
): Promise<Run> {
  const stdout = Object.assign(new PassThrough(), { isTTY: opts.tty === true });
  const stderr = Object.assign(new PassThrough(), { isTTY: opts.tty === true });
  let out = "";
  let err = "";
  stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const stdin = Readable.from(opts.stdin === undefined ? [] : [opts.stdin]) as unknown as Io["stdin"];
  const code = await main(args, { stdout, stderr, stdin, env: { ...env, ...opts.env } });
  const lines = out.split("\n").flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return []; // help text
    }
  });
  return { code, out, err, lines };
}

const ndjson = (n: number, from = 0): string =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      entityType: "order",
      entityId: `o-${from + i}`,
      eventType: "order.created",
      payload: { i: from + i },
    }),
  ).join("\n");

describe("ves", () => {
  it("prints help for itself and every command, and refuses unknown commands and flags", async () => {
    const top = await ves(["--help"]);
    expect(top.code).toBe(EXIT.ok);
    for (const cmd of ["keygen", "register-key", "emit", "tail", "export", "verify", "status"]) {
      expect(top.out).toContain(cmd);
      const h = await ves([cmd, "--help"]);
      expect(h.code, cmd).toBe(EXIT.ok);
      expect(h.out, cmd).toMatch(new RegExp(`^ves ${cmd}`));
    }
    expect((await ves(["frobnicate"])).code).toBe(EXIT.usage);
    const bad = await ves(["emit", "--nope"]);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toContain("--nope");
    expect((await ves(["status", "--url", "http://127.0.0.1:1"])).code).toBe(EXIT.unavailable);
  });

  it("keygen, register-key, then emit from flags and from NDJSON on stdin", async () => {
    const kg = await ves(["keygen", "--out", env.VES_KEY_FILE as string]);
    expect(kg.code).toBe(EXIT.ok);
    expect(kg.lines[0]?.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect((await ves(["keygen", "--out", env.VES_KEY_FILE as string])).code).toBe(EXIT.usage); // never overwrites
    const reg = await ves(["register-key"]);
    expect(reg.err).toBe("");
    expect(reg.code).toBe(EXIT.ok);
    expect(reg.lines[0]).toMatchObject({ keyId: 1, status: "active" });

    const one = await ves([
      "emit",
      "--entity-type",
      "order",
      "--entity-id",
      "o-x",
      "--event-type",
      "order.created",
      "--payload",
      '{"a":1}',
    ]);
    expect(one.code).toBe(EXIT.ok);
    expect(one.lines).toEqual([expect.objectContaining({ line: 1, sequence: "1", replayed: false })]);

    const many = await ves(["emit", "--batch-size", "7"], { stdin: ndjson(40) });
    expect(many.code).toBe(EXIT.ok);
    expect(many.lines.map((l) => l.sequence)).toEqual(Array.from({ length: 40 }, (_, i) => String(i + 2)));

    // On a terminal: a progress line on stderr, nothing on stdout.
    const tty = await ves(["emit"], { stdin: ndjson(3, 50), tty: true });
    expect(tty.code).toBe(EXIT.ok);
    expect(tty.out).toBe("");
    expect(tty.err).toMatch(/\[#+\] 3\/3 appended 3, rejected 0/);
    expect(tty.err).toContain("3 appended, 0 rejected");

    // One line that is not an event, one rejected by the sequencer: the rest still land; exit 1.
    const input = [
      ndjson(2, 100),
      "not json",
      JSON.stringify({ entityType: "order", entityId: "o-0", eventType: "x", payload: {}, baseVersion: 99 }),
      ndjson(1, 200),
    ].join("\n");
    const mixed = await ves(["emit", "--file", "-"], { stdin: input });
    expect(mixed.code).toBe(EXIT.failed);
    expect(mixed.lines.map((l) => l.error ?? l.sequence)).toEqual([
      "45",
      "46",
      "invalid_argument",
      "rejected",
      "47",
    ]);
    expect(mixed.lines[3]).toMatchObject({ reason: "version_conflict" });
  });

  it("emit exits 5 when receipts do not verify against the pinned key, 4 when the credential is refused", async () => {
    const wrong = await ves(["emit"], { stdin: ndjson(2), env: { VES_SEQUENCER_KEY: "11".repeat(32) } });
    expect(wrong.code).toBe(EXIT.untrusted);
    expect(wrong.lines.every((l) => l.error === "bad_receipt")).toBe(true);
    const denied = await ves(["emit"], { stdin: ndjson(2), env: { VES_API_KEY: "ves_000000000000_nope" } });
    expect(denied.code).toBe(EXIT.auth);
    const noKey = await ves(["emit"], { stdin: ndjson(1), env: { VES_KEY_FILE: undefined } });
    expect(noKey.code).toBe(EXIT.usage);
    expect(noKey.err).toContain("--key-file");
  });

  it("tail and export print the stream verified; verify checks receipts, proofs and events", async () => {
    const t = await ves(["tail", "--from", "40"]);
    expect(t.code).toBe(EXIT.ok);
    // Events 1..47 from the emit test, plus the two the wrong-key run appended (refused by the client only).
    expect(t.lines.map((l) => l.sequence)).toEqual([
      "40",
      "41",
      "42",
      "43",
      "44",
      "45",
      "46",
      "47",
      "48",
      "49",
    ]);
    expect(t.lines[1]).toMatchObject({ entityType: "order", payload: { i: 39 } });

    const ex = await ves(["export", "--to", "10"]);
    expect(ex.code).toBe(EXIT.ok);
    expect(ex.lines).toHaveLength(10);
    const exportFile = path.join(dir, "export.ndjson");
    writeFileSync(exportFile, ex.out);
    const vr = await ves(["verify", "receipt", exportFile]);
    expect(vr.code).toBe(EXIT.ok);
    expect(vr.lines.filter((l) => l.valid === true)).toHaveLength(10);
    writeFileSync(exportFile, ex.out.replace(/"sequenceNumber":"3"/, '"sequenceNumber":"33"'));
    const tampered = await ves(["verify", "receipt", exportFile]);
    expect(tampered.code).toBe(EXIT.failed);
    expect(tampered.lines[2]).toMatchObject({ valid: false, reason: "receipt_hash_mismatch" });

    // Inclusion and consistency proofs as the server returns them, once the events are sealed.
    const proofs = createClient(ProofService, testTransport(server.url));
    const stream = { tenantId: env.VES_TENANT as string, storeId: env.VES_STORE as string };
    let sealed = 0n;
    for (let i = 0; i < 100 && sealed < 49n; i++) {
      sealed = (await proofs.getSyncState(stream)).sealedSequence;
      if (sealed < 49n) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sealed).toBe(49n);
    const inc = await proofs.getInclusionProof({
      ...stream,
      selector: { case: "sequenceNumber", value: 5n },
    });
    const incFile = path.join(dir, "inclusion.json");
    writeFileSync(incFile, toJsonString(GetInclusionProofResponseSchema, inc));
    expect((await ves(["verify", "inclusion", incFile])).code).toBe(EXIT.ok);
    (inc.proof as NonNullable<typeof inc.proof>).leafIndex += 1;
    writeFileSync(incFile, toJsonString(GetInclusionProofResponseSchema, inc));
    const badInc = await ves(["verify", "inclusion", incFile]);
    expect(badInc.code).toBe(EXIT.failed);
    expect(badInc.lines[0]?.valid).toBe(false);

    const cons = await proofs.getConsistencyProof({ ...stream, fromCommitmentId: "" });
    const consFile = path.join(dir, "consistency.json");
    writeFileSync(consFile, toJsonString(GetConsistencyProofResponseSchema, cons));
    expect((await ves(["verify", "consistency", consFile])).lines[0]).toMatchObject({ valid: true });
    writeFileSync(
      consFile,
      toJsonString(GetConsistencyProofResponseSchema, cons).replace(
        /"toSequenceEnd":"49"/,
        '"toSequenceEnd":"50"',
      ),
    );
    expect((await ves(["verify", "consistency", consFile])).code).toBe(EXIT.failed);

    const ev = await ves(["verify", "event", "--sequence", "7"]);
    expect(ev.code).toBe(EXIT.ok);
    expect(ev.lines[0]).toMatchObject({ valid: true, sequence: "7" });
    expect(readFileSync(exportFile, "utf8")).not.toBe("");
  });

  it("status prints the sequencer's identity and the stream's head", async () => {
    const s = await ves(["status", "--tenant", env.VES_TENANT as string, "--store", env.VES_STORE as string]);
    expect(s.code).toBe(EXIT.ok);
    expect(s.lines[0]).toMatchObject({
      sequencerId: server.sequencerId,
      keys: [{ publicKey: bytesToHex(server.publicKey), current: true }],
      stream: { head: "49" },
    });
    // GetSequencerInfo is public; the stream's state needs a credential.
    const denied = await ves(
      ["status", "--tenant", env.VES_TENANT as string, "--store", env.VES_STORE as string],
      {
        env: { VES_API_KEY: "ves_000000000000_nope" },
      },
    );
    expect(denied.code).toBe(EXIT.auth);
  });
});

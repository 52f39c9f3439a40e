// The default a newcomer meets: `npm start` with DATABASE_URL unset runs on an embedded PostgreSQL server in
// DATA_DIR. It serves the demo, takes concurrent writers with the commitment worker running without an error or
// warning in its log, keeps its data across a restart, refuses a second server on the same DATA_DIR in one
// line, and `npm start`'s own process answers SIGTERM and Ctrl-C (SIGINT to the group) by draining and exiting,
// leaving neither the Node server nor PostgreSQL behind.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyRegistryService } from "../gen/ves/sequencer/v1/key_registry_pb.js";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { createAgent, registerAgent } from "./support/agent.js";
import { appendAll } from "./support/reads.js";
import { REPO_ROOT, withCredential } from "./support/sequencer.js";

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function npm(args: string[], env: Record<string, string>): Started {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.DATABASE_URL;
  const child = spawn("npm", args, {
    cwd: REPO_ROOT,
    env: { ...base, SEQUENCER_ENV: "development", PORT: "0", CRYPTO_WORKERS: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own, so the test can send the terminal's Ctrl-C (SIGINT to the group).
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

interface Server extends Started {
  readonly url: string;
  readonly port: number;
  /** The Node server's pid (from its log lines), which npm started. */
  readonly serverPid: number;
}

const started: Server[] = [];

async function npmStart(dataDir: string): Promise<Server> {
  const s = npm(["start"], { DATA_DIR: dataDir, LOG_LEVEL: "debug" });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const m = /"pid":(\d+).*"url":"http:\/\/[^:]+:(\d+)".*"msg":"sequencer listening/.exec(s.output());
    if (m !== null) {
      const port = Number(m[2]);
      const server = { ...s, url: `http://127.0.0.1:${port}`, port, serverPid: Number(m[1]) };
      started.push(server);
      return server;
    }
    if (s.child.exitCode !== null || Date.now() > deadline) {
      s.child.kill("SIGKILL");
      throw new Error(`npm start did not listen:\n${s.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Lines at warn level or above (pino: 40 warn, 50 error, 60 fatal). */
function warnings(output: string): string[] {
  return output.split("\n").filter((l) => /"level":(4|5|6)0\b/.test(l));
}

function clients(url: string, key: string) {
  const transport = createGrpcTransport({ baseUrl: url, interceptors: [withCredential(key)] });
  return {
    seq: createClient(SequencerService, transport),
    keys: createClient(KeyRegistryService, transport),
  };
}

describe("npm start with DATABASE_URL unset", { timeout: 120_000 }, () => {
  let dataDir: string;
  let first: Server | undefined;
  const agentA = createAgent();
  const agentB = createAgent({ tenantId: agentA.tenantId, storeId: agentA.storeId });
  const perClient = 600;

  beforeAll(async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "ves-embedded-"));
    // Run as root, the database server runs as the postgres user, which must reach the directory.
    chmodSync(parent, 0o755);
    dataDir = path.join(parent, "data");
    first = await npmStart(dataDir);
  });
  afterAll(async () => {
    // After a failure: stop servers directly (a SIGKILL would leave their PostgreSQL running).
    for (const s of started) {
      if (!isAlive(s.serverPid)) continue;
      process.kill(s.serverPid, "SIGTERM");
      for (let i = 0; i < 100 && isAlive(s.serverPid); i++) await new Promise((r) => setTimeout(r, 50));
    }
    if (dataDir !== undefined) rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it("starts a real PostgreSQL in DATA_DIR and serves the demo with the generated admin key", async () => {
    const s = first as Server;
    expect(s.output()).toMatch(/started an embedded PostgreSQL/);
    expect(existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);
    expect(readFileSync(path.join(dataDir, "postgres", "PG_VERSION"), "utf8").trim()).toBe("15");
    const demo = npm(["run", "demo", "--", "--url", s.url, "--events", "8"], { DATA_DIR: dataDir });
    const code = await demo.exited;
    expect(demo.output()).toContain("8/8 receipts verified against the sequencer key");
    expect(code).toBe(0);
  });

  it("takes two concurrent writers with the commitment worker sealing, without an error or warning", async () => {
    const s = first as Server;
    const key = readFileSync(path.join(dataDir, "bootstrap-admin-key"), "utf8").trim();
    const a = clients(s.url, key);
    const b = clients(s.url, key);
    await registerAgent(a.keys, agentA);
    await registerAgent(b.keys, agentB);
    const eventsA = Array.from({ length: perClient }, () => agentA.event());
    const eventsB = Array.from({ length: perClient }, () => agentB.event());
    const [seqA, seqB] = await Promise.all([appendAll(a.seq, eventsA, 25), appendAll(b.seq, eventsB, 25)]);
    const all = [...seqA, ...seqB].sort((x, y) => (x < y ? -1 : 1));
    expect(all).toEqual(Array.from({ length: 2 * perClient }, (_, i) => BigInt(i + 1)));
    // The worker seals within COMMIT_MAX_AGE_MS (500) of the last event.
    const deadline = Date.now() + 10_000;
    while (!/"sequenceEnd":"1200".*"msg":"commitment sealed"/.test(s.output()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s.output()).toMatch(/"sequenceEnd":"1200".*"msg":"commitment sealed"/);
    expect(warnings(s.output())).toEqual([]);
  });

  it("refuses a second server and a migration on the same DATA_DIR in one line", async () => {
    const second = npm(["start"], { DATA_DIR: dataDir });
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toMatch(
      /failed to start: the data directory \S+ is in use by another PostgreSQL \(pid \d+\), most likely another npm start or npm run migrate on the same DATA_DIR; stop it first, or set another DATA_DIR\n/,
    );
    expect(second.output()).not.toMatch(/^\s+at /m);
    const migrate = npm(["run", "migrate"], { DATA_DIR: dataDir });
    expect(await migrate.exited).toBe(1);
    expect(migrate.output()).toMatch(
      /migrate failed: the data directory \S+ is in use by another PostgreSQL/,
    );
    // The first server is unharmed.
    expect(await portOpen((first as Server).port)).toBe(true);
  });

  it("drains and exits on SIGTERM to npm start's own pid, leaving no server and no PostgreSQL", async () => {
    const s = first as Server;
    expect(s.serverPid).not.toBe(s.child.pid);
    process.kill(s.child.pid as number, "SIGTERM");
    expect(await s.exited).toBe(0);
    expect(s.output()).toMatch(/"signal":"SIGTERM".*"msg":"signal received"/);
    expect(s.output()).toMatch(/"msg":"stopped"/);
    expect(isAlive(s.serverPid)).toBe(false);
    expect(await portOpen(s.port)).toBe(false);
    expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  });

  it("keeps the data across a restart, and drains on Ctrl-C (SIGINT to the process group)", async () => {
    const s = await npmStart(dataDir);
    {
      expect(s.output()).toMatch(/"created":false/);
      const key = readFileSync(path.join(dataDir, "bootstrap-admin-key"), "utf8").trim();
      const { seq } = clients(s.url, key);
      const head = await seq.getHead({ tenantId: agentA.tenantId, storeId: agentA.storeId });
      expect(head.headSequence).toBe(BigInt(2 * perClient));
      // npm forwards the SIGINT it got to the server, which then sees two at once: still one drain.
      process.kill(-(s.child.pid as number), "SIGINT");
      expect(await s.exited).toBe(0);
      expect(s.output()).toMatch(/"msg":"stopped"/);
      expect(s.output()).not.toMatch(/second signal/);
      expect(isAlive(s.serverPid)).toBe(false);
      expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
    }
  });
});

// The README is checked against the code: its configuration table is the list the server reads, and every
// shell block in it works when pasted as is. The blocks run in order, in one environment (what a block exports
// the next sees, as in one terminal), against a sequencer started the way the README says (development mode,
// its own DATA_DIR and PORT, on the test PostgreSQL). Only blocks marked `<!-- readme-test: skip (…) -->` that
// install or start the server are skipped; `<!-- readme-test: needs python -->` blocks run when Debian's Python
// packages are present (else they are skipped by name with the install command, or fail under CI=true).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, readConfig } from "../src/config.js";
import { type Sequencer, startSequencer } from "../src/main.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { missingPythonPackages, PYTHON_INSTALL_COMMAND } from "./support/pythonDeps.js";
import { REPO_ROOT } from "./support/sequencer.js";

const README = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

it("lists every configuration variable with its default and meaning", () => {
  const rows = [...README.matchAll(/^\| `([A-Z0-9_]+)` \| (.*?) \| (.*?) \|$/gm)].map((m) => ({
    name: m[1],
    default: m[2],
    description: m[3],
  }));
  expect(rows).toEqual(
    CONFIG_VARIABLES.map((v) => ({ name: v.name, default: v.default, description: v.description })),
  );
});

interface Block {
  readonly line: number;
  readonly code: string;
  /** The marker comment right before the block, if any. */
  readonly marker: string | undefined;
}

/** Every ```sh block with the line it starts on and the `<!-- readme-test: … -->` marker before it. */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const end = lines.indexOf("```", i + 1);
    let j = i - 1;
    while (j >= 0 && lines[j]?.trim() === "") j--;
    const marker = /^<!-- readme-test: (.*) -->$/.exec(lines[j] ?? "")?.[1];
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join("\n"), marker });
    i = end;
  }
  return blocks;
}

const BLOCKS = shellBlocks(README);
const SKIP = /^skip \((.*)\)$/;
const MISSING_PYTHON = missingPythonPackages();
const label = (b: Block): string => `README.md:${b.line} ${(b.code.split("\n")[0] ?? "").slice(0, 70)}`;

it("marks only blocks that install or start the server as skipped, and knows every marker", () => {
  for (const b of BLOCKS) {
    if (b.marker === undefined || b.marker === "needs python") continue;
    const reason = SKIP.exec(b.marker)?.[1];
    expect(reason, `${label(b)}: unknown marker "${b.marker}"`).toBeDefined();
    expect(reason, label(b)).toMatch(/^(installs|starts the server|installs, then starts the server)$/);
  }
  // The path a new user follows is among the blocks that run.
  const run = BLOCKS.filter((b) => b.marker === undefined).map((b) => b.code);
  expect(run.some((c) => c.includes("bootstrap-admin-key"))).toBe(true);
  expect(run.some((c) => c.includes("npm run demo"))).toBe(true);
});

describe("README shell blocks, run against a started server", () => {
  let db: TestDatabase;
  let server: Sequencer;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const pyDir = path.join(REPO_ROOT, "py");
  const pyDirExisted = existsSync(pyDir);

  beforeAll(async () => {
    db = await createTestDatabase("ves_readme");
    dataDir = mkdtempSync(path.join(tmpdir(), "ves-readme-"));
    // As the README starts it (`npm start` in development: the admin key is generated into DATA_DIR), on the
    // test database and a free port.
    const config = readConfig({
      SEQUENCER_ENV: "development",
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      PORT: "0",
      LOG_LEVEL: "silent",
      CRYPTO_WORKERS: "2",
      DB_POOL_MAX: "8",
    });
    server = await startSequencer(config, pino({ level: "silent" }));
    env = { ...process.env, PORT: String(server.address.port), DATA_DIR: dataDir };
    for (const k of ["SEQUENCER_URL", "VES_API_KEY", "BOOTSTRAP_ADMIN_API_KEY", "KEY", "T", "S", "A"])
      delete env[k];
  });

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    if (!pyDirExisted) await rm(pyDir, { recursive: true, force: true });
  });

  /** Runs a block with `bash -e -o pipefail` in the repository; returns the environment it leaves. */
  async function runBlock(b: Block): Promise<NodeJS.ProcessEnv> {
    const script = `set -eo pipefail\n${b.code}\nenv -0 >&3\n`;
    const child = spawn("bash", ["-c", script], {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    let output = "";
    const envOut: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (c: Buffer) => envOut.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    const code = await new Promise<number | null>((r) => child.once("close", r));
    clearTimeout(timer);
    expect(code, `${label(b)} failed; output:\n${output}`).toBe(0);
    const next: NodeJS.ProcessEnv = {};
    for (const entry of Buffer.concat(envOut).toString().split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) next[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return next;
  }

  // Sequential, in README order: later blocks use what earlier ones exported.
  for (const b of BLOCKS) {
    const reason = b.marker === undefined ? undefined : SKIP.exec(b.marker)?.[1];
    if (reason !== undefined) {
      it.skip(`${label(b)} (skipped: ${reason})`, () => {});
      continue;
    }
    if (b.marker === "needs python" && MISSING_PYTHON.length > 0 && process.env.CI !== "true") {
      it.skip(`${label(b)} (skipped: missing ${MISSING_PYTHON.join(", ")}; install with: ${PYTHON_INSTALL_COMMAND})`, () => {});
      continue;
    }
    it(label(b), async () => {
      if (b.marker === "needs python" && MISSING_PYTHON.length > 0) {
        throw new Error(`CI=true and Debian's Python packages are missing: ${MISSING_PYTHON.join(", ")}`);
      }
      env = await runBlock(b);
    }, 180_000);
  }
});

// gen/ is generated from proto/ and committed: fail when it differs from a fresh `buf generate`, when the
// protos do not pass `buf lint`, or when they break wire compatibility with main.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/sequencer.js";

const BUF = path.join(REPO_ROOT, "node_modules", ".bin", "buf");
const out = mkdtempSync(path.join(tmpdir(), "ves-gen-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function tree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(path.relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return files;
}

describe("generated code", () => {
  it("gen/ matches a fresh generation from proto/ (run `npm run generate` and commit)", () => {
    execFileSync(BUF, ["generate", "--template", "buf.gen.yaml", "-o", out], {
      cwd: REPO_ROOT,
      stdio: "pipe",
    });
    const fresh = tree(path.join(out, "gen"));
    const committed = tree(path.join(REPO_ROOT, "gen"));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [file, text] of fresh) expect(committed.get(file), file).toBe(text);
  });

  it("proto/ passes buf lint", () => {
    const r = spawnSync(BUF, ["lint"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("proto/ makes no breaking change against main", () => {
    const hasMain =
      spawnSync("git", ["rev-parse", "--verify", "--quiet", "main"], { cwd: REPO_ROOT, stdio: "ignore" })
        .status === 0;
    // buf reads the repository from a .git directory (a git worktree has a .git file instead).
    const gitDir = statSync(path.join(REPO_ROOT, ".git"), { throwIfNoEntry: false })?.isDirectory() ?? false;
    const hasProtoOnMain =
      hasMain &&
      gitDir &&
      spawnSync("git", ["cat-file", "-e", "main:proto"], { cwd: REPO_ROOT, stdio: "ignore" }).status === 0;
    if (!hasProtoOnMain) return; // a checkout without main (e.g. a tarball): nothing to compare against
    const r = spawnSync(BUF, ["breaking", "--against", ".git#branch=main,subdir=proto", "proto"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

// The dependency rule of the house style, checked on every import: crypto <- domain <- app <- {infra, api} <- main.
// Only api/, client/ and the command-line entry points import gen/; the SDK (client/) needs no server code:
// besides gen/ it uses crypto/ and the pure rules of domain/, which like the SDK never import Node built-ins.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname);

/** Which top-level parts of src/ each part may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  crypto: [],
  domain: ["crypto"],
  app: ["domain", "crypto"],
  infra: ["app", "domain", "crypto", "contracts"],
  api: ["app", "domain", "crypto", "gen"],
  client: ["domain", "crypto", "gen", "contracts"],
  node: ["client", "domain", "crypto", "gen"], // the SDK's Node-only parts (Node transport, native crypto, outbox)
  cli: ["*"],
  compose: ["*"], // the composition root's steps, used only by main.ts
  root: ["*"], // main.ts, config.ts: the composition root
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? files(path.join(dir, d.name))
      : /\.(ts|mjs)$/.test(d.name)
        ? [path.join(dir, d.name)]
        : [],
  );
}

function partOf(file: string): string {
  const rel = path.relative(SRC, file);
  if (rel.startsWith("..")) {
    // contracts/gen/: the anchor contract's ABI, for the viem adapters and the SDK's verifyAnchor.
    if (rel.includes(`contracts${path.sep}gen${path.sep}`)) return "contracts";
    return rel.includes(`gen${path.sep}`) ? "gen" : "outside";
  }
  const first = rel.split(path.sep)[0] as string;
  return rel.includes(path.sep) ? first : "root";
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function violationsOf(file: string, text: string): string[] {
  const from = partOf(file);
  const allowed = ALLOWED[from] ?? [];
  const violations: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2]) as string;
    if (!spec.startsWith(".")) {
      // Browser-safe layers must not reach for Node built-ins (the SDK runs in browsers).
      if (
        (from === "client" || (from === "crypto" && !file.endsWith("native.ts"))) &&
        spec.startsWith("node:")
      ) {
        violations.push(spec);
      }
      continue;
    }
    const to = partOf(path.resolve(path.dirname(file), spec));
    if (to !== from && !allowed.includes("*") && !allowed.includes(to)) violations.push(`${spec} (${to})`);
  }
  return violations;
}

describe("dependency rule", () => {
  it("flags imports against the rule", () => {
    const domainFile = path.join(SRC, "domain", "x.ts");
    expect(violationsOf(domainFile, 'import { a } from "../infra/pg/a.js";')).toEqual([
      "../infra/pg/a.js (infra)",
    ]);
    expect(violationsOf(domainFile, 'import type { B } from "../../gen/b_pb.js";')).toEqual([
      "../../gen/b_pb.js (gen)",
    ]);
    expect(violationsOf(path.join(SRC, "client", "c.ts"), 'import { x } from "node:fs";')).toEqual([
      "node:fs",
    ]);
    expect(violationsOf(path.join(SRC, "api", "s.ts"), 'import { c } from "../app/c.js";')).toEqual([]);
  });

  const sources = files(SRC).filter((f) => !f.endsWith(".test.ts"));

  it("finds the source tree", () => {
    expect(sources.length).toBeGreaterThan(20);
    expect(new Set(sources.map(partOf))).toEqual(new Set(Object.keys(ALLOWED)));
  });

  it.each(sources.map((f) => [path.relative(SRC, f), f]))("%s imports only what its layer may", (_, file) => {
    expect(violationsOf(file, readFileSync(file, "utf8"))).toEqual([]);
  });
});

// The README's configuration table is the list the server reads (CONFIG_VARIABLES), word for word.
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../src/config.js";
import { REPO_ROOT } from "./support/sequencer.js";

it("lists every configuration variable with its default and meaning", () => {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const rows = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \| (.*?) \| (.*?) \|$/gm)].map((m) => ({
    name: m[1],
    default: m[2],
    description: m[3],
  }));
  expect(rows).toEqual(
    CONFIG_VARIABLES.map((v) => ({ name: v.name, default: v.default, description: v.description })),
  );
});

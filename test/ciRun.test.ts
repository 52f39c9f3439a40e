// .ci/run installs the Debian packages the Python end-to-end test needs; `npm test` itself never installs any.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { BROWSER_PACKAGES } from "./support/browserDeps.js";
import { PYTHON_PACKAGES } from "./support/pythonDeps.js";
import { REPO_ROOT } from "./support/sequencer.js";

it(".ci/run installs exactly the packages the Python end-to-end test and the browser test check for", () => {
  const script = readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8");
  const list = /^DEBIAN_PACKAGES=\(([^)]*)\)$/m.exec(script)?.[1];
  expect(list?.trim().split(/\s+/)).toEqual([...PYTHON_PACKAGES, ...BROWSER_PACKAGES]);
  expect(script).toMatch(/^export CI=true\nnpm ci && npm test$/m);
  // Once, after `set -euo pipefail` and the cd to the repository (a merge once pasted a second copy above them).
  expect(script.match(/^npm ci && npm test$/gm)).toHaveLength(1);
  expect(script.match(/^DEBIAN_PACKAGES=/gm)).toHaveLength(1);
  expect(script.indexOf("set -euo pipefail")).toBeLessThan(script.indexOf("DEBIAN_PACKAGES="));
});

it("no test support file or test setup installs system packages", () => {
  const dir = path.join(REPO_ROOT, "test", "support");
  for (const f of readdirSync(dir)) {
    const text = readFileSync(path.join(dir, f), "utf8");
    expect(text, f).not.toMatch(/spawnSync\(\s*"apt-get"|execFileSync\(\s*"apt-get"|"apt-get",/);
  }
});

// The committed contract artifacts (contracts/gen/) are exactly what the pinned solc makes of contracts/*.sol.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import solc from "solc";
import { describe, expect, it } from "vitest";
import { compileContracts, GEN_DIR } from "../contracts/compile.js";

describe("contract artifacts", () => {
  it("match a fresh compile with the pinned solc (run `npm run contracts` after editing a .sol file)", () => {
    expect(solc.version()).toMatch(/^0\.8\.37\+/);
    const fresh = compileContracts();
    const committed = readdirSync(GEN_DIR).filter((f) => f.endsWith(".ts"));
    expect(committed.sort()).toEqual([...fresh.keys()].sort());
    for (const [file, text] of fresh) {
      expect(readFileSync(path.join(GEN_DIR, file), "utf8"), `contracts/gen/${file}`).toBe(text);
    }
  });
});

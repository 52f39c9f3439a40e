// The bootstrap admin key in development: generated once into DATA_DIR/bootstrap-admin-key (mode 0600) when
// BOOTSTRAP_ADMIN_API_KEY is unset, so that `npm start` then `npm run demo` / `npm run admin` work out of the box.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export const BOOTSTRAP_KEY_FILE = "bootstrap-admin-key";

export async function loadOrCreateDevBootstrapKey(
  dataDir: string,
): Promise<{ key: string; file: string; created: boolean }> {
  const file = path.join(dataDir, BOOTSTRAP_KEY_FILE);
  try {
    return { key: (await readFile(file, "utf8")).trim(), file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = `ves_dev_admin_${randomBytes(32).toString("base64url")}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  return { key, file, created: true };
}

// What the browser test needs: Debian's Chromium, driven by the playwright-core npm package (a devDependency
// that downloads no browser). Only detected here: the test run never installs system packages (.ci/run does,
// before `npm test`).
import { existsSync } from "node:fs";

export const BROWSER_PACKAGES = ["chromium"] as const;

export const BROWSER_INSTALL_COMMAND = `sudo apt-get install -y ${BROWSER_PACKAGES.join(" ")}`;

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Headless, with nothing that reaches out to the network on its own. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
] as const;

/** The Debian packages that are missing, by name (empty when everything is present). */
export function missingBrowserPackages(): string[] {
  return existsSync(CHROMIUM_PATH) ? [] : [...BROWSER_PACKAGES];
}

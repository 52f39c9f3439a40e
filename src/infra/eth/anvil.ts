// A local anvil (the npm package @foundry-rs/anvil's binary) on a free loopback port: for tests, benches and the
// development setting ANCHOR_DEV_ANVIL. Starts the binary directly (about twice as fast as the npm wrapper).
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { freePort } from "../freePort.js";

/** Anvil's default account #0 (public test key; funded on every anvil). Never use it on a real chain. */
export const ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" as const;
/** Anvil's default account #1. */
export const ANVIL_DEV_KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" as const;

/** In DATA_DIR: the JSON-RPC URL of the ANCHOR_DEV_ANVIL chain (a free port), for local tools (npm run demo). */
export const DEV_ANVIL_URL_FILE = "anvil-rpc-url";

export interface Anvil {
  readonly url: string;
  readonly port: number;
  readonly chainId: number;
  stop(): Promise<void>;
}

export interface AnvilOptions {
  readonly chainId?: number;
  /** Seconds between blocks; undefined: a block per transaction (automine). */
  readonly blockTime?: number;
  readonly port?: number;
  /** Load the chain from this file at start and write it back on exit (anvil --state). */
  readonly statePath?: string;
}

export function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform === "win32" ? "win32" : process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "bin", "anvil");
  } catch {
    throw new Error(`anvil binary not found: install the dev dependency @foundry-rs/anvil (needs ${pkg})`);
  }
}

async function rpc(url: string, method: string): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

export async function startAnvil(opts: AnvilOptions = {}): Promise<Anvil> {
  const chainId = opts.chainId ?? 31337;
  const port = opts.port ?? (await freePort());
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--silent"];
  if (opts.blockTime !== undefined) args.push("--block-time", String(opts.blockTime));
  if (opts.statePath !== undefined) args.push("--state", opts.statePath);
  const child: ChildProcess = spawn(anvilBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited with ${child.exitCode}: ${stderr}`);
    try {
      await rpc(url, "eth_chainId");
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`anvil did not answer on ${url} within 10 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    url,
    port,
    chainId,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

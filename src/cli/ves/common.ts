// The ves CLI's shared parts: options from flags or the environment, credentials, the pinned sequencer key,
// exit codes scripts can rely on, and errors turned into one line on stderr.
import { readFileSync } from "node:fs";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { SequencerService } from "../../../gen/ves/sequencer/v1/sequencer_pb.js";
import { AgentError } from "../../client/agentError.js";
import { hexToBytes } from "../../crypto/bytes.js";
import { grpcTransport } from "../../node/createAgent.js";

/** Exit codes: documented in `ves --help`. */
export const EXIT = {
  ok: 0,
  /** Something was rejected or did not verify (an event, a receipt, a proof). */
  failed: 1,
  usage: 2,
  unavailable: 3,
  /** The credential was refused (unauthenticated or permission denied). */
  auth: 4,
  /** The server's answer did not verify (a forged receipt, a tampered event). */
  untrusted: 5,
} as const;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const COMMON_HELP = `Connection (flags win over the environment):
  --url URL              the sequencer (SEQUENCER_URL, default http://127.0.0.1:50051)
  --api-key KEY          an API key, or "Bearer <JWT>" (VES_API_KEY)
  --sequencer-key HEX    pin the sequencer's 32-byte receipt key (VES_SEQUENCER_KEY); unpinned, the key the
                         server publishes is used and a note says so
  -h, --help             this help`;

export const COMMON_OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
  "sequencer-key": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const STREAM_OPTIONS = {
  tenant: { type: "string" },
  store: { type: "string" },
} as const;

export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

export interface Connection {
  readonly url: string;
  readonly credential: string | undefined;
  readonly transport: Transport;
  readonly headers: Record<string, string>;
}

export function connection(
  values: { url?: string | undefined; "api-key"?: string | undefined },
  io: Io,
): Connection {
  const url = values.url ?? io.env.SEQUENCER_URL ?? "http://127.0.0.1:50051";
  if (!/^https?:\/\/[^/]+/.test(url))
    throw new UsageError(`--url expected http(s)://host:port, got "${url}"`);
  const credential = values["api-key"] ?? io.env.VES_API_KEY;
  const headers: Record<string, string> =
    credential === undefined || credential === ""
      ? {}
      : { authorization: /^(Bearer|ApiKey) /.test(credential) ? credential : `ApiKey ${credential}` };
  return { url, credential, transport: grpcTransport(url), headers };
}

/** The value of a required option (flag or environment variable). */
export function required(value: string | undefined, flag: string, env?: string, io?: Io): string {
  const v = value ?? (env === undefined ? undefined : io?.env[env]);
  if (v === undefined || v === "") {
    throw new UsageError(`${flag} is required${env === undefined ? "" : ` (or set ${env})`}`);
  }
  return v;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuidOption(value: string | undefined, flag: string, env: string, io: Io): string {
  const v = required(value, flag, env, io);
  if (!UUID.test(v)) throw new UsageError(`${flag} expected a UUID, got "${v}"`);
  return v.toLowerCase();
}

export function intOption(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`${flag} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} expected an integer ${min}..${max}, got "${value}"`);
  }
  return n;
}

export function bigintOption(value: string | undefined, flag: string, fallback: bigint): bigint {
  if (value === undefined) return fallback;
  if (!/^\d{1,20}$/.test(value))
    throw new UsageError(`${flag} expected a non-negative integer, got "${value}"`);
  return BigInt(value);
}

export function hexKey(value: string, flag: string, length = 32): Uint8Array {
  try {
    const b = hexToBytes(value.replace(/^0x/, ""));
    if (b.length === length) return b;
  } catch {
    // reported below
  }
  throw new UsageError(`${flag} expected ${length * 2} hex characters, got "${value}"`);
}

/** An agent's key file written by `ves keygen`: {"seed": hex, "publicKey": hex}. */
export function readKeyFile(file: string): { seed: Uint8Array; publicKey: Uint8Array } {
  let parsed: { seed?: unknown; publicKey?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`cannot read the key file "${file}": ${(err as Error).message}`);
  }
  if (typeof parsed.seed !== "string" || typeof parsed.publicKey !== "string") {
    throw new UsageError(`the key file "${file}" expected {"seed": hex, "publicKey": hex}`);
  }
  return {
    seed: hexKey(parsed.seed, `${file}: seed`),
    publicKey: hexKey(parsed.publicKey, `${file}: publicKey`),
  };
}

/** The pinned sequencer key, or the current key the server publishes (with a note on stderr). */
export async function sequencerKey(value: string | undefined, conn: Connection, io: Io): Promise<Uint8Array> {
  const pinned = value ?? io.env.VES_SEQUENCER_KEY;
  if (pinned !== undefined && pinned !== "") return hexKey(pinned, "--sequencer-key");
  const info = await createClient(SequencerService, conn.transport).getSequencerInfo(
    {},
    { headers: conn.headers },
  );
  const current = info.signingKeys.find((k) => k.current) ?? info.signingKeys[0];
  if (current === undefined) throw new AgentError("bad_receipt", "the sequencer publishes no receipt key");
  io.stderr.write(
    `note: sequencer key not pinned; trusting ${Buffer.from(current.publicKey).toString("hex")} (${current.keyId}) as published by ${conn.url} (pin it with --sequencer-key)\n`,
  );
  return current.publicKey;
}

/** One line on stderr for a failure, and the exit code it maps to. */
export function report(err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`ves: ${err.message} (see --help)\n`);
    return EXIT.usage;
  }
  if (err instanceof AgentError) {
    io.stderr.write(`ves: ${err.message}\n`);
    if (err.reason === "unauthenticated" || err.reason === "permission_denied") return EXIT.auth;
    if (err.reason === "unavailable") return EXIT.unavailable;
    if (err.reason === "bad_receipt" || err.reason === "bad_event") return EXIT.untrusted;
    if (err.reason === "invalid_argument") return EXIT.usage;
    return EXIT.failed;
  }
  const ce = ConnectError.from(err);
  io.stderr.write(`ves: [${Code[ce.code]}] ${ce.rawMessage}\n`);
  if (ce.code === Code.Unauthenticated || ce.code === Code.PermissionDenied) return EXIT.auth;
  if (ce.code === Code.Unavailable || ce.code === Code.DeadlineExceeded) return EXIT.unavailable;
  if (ce.code === Code.InvalidArgument || ce.code === Code.OutOfRange) return EXIT.usage;
  return EXIT.failed;
}

export function line(out: NodeJS.WritableStream, value: unknown): void {
  out.write(`${JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
}

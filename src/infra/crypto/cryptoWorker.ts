// Crypto worker thread: payload hashes (RFC 8785), event signing hashes and Ed25519 verification for ingest,
// and receipt signatures with the sequencer key (docs/protocol.md §2.2-§2.4).
import { parentPort, workerData } from "node:worker_threads";
import { equalBytes } from "../../crypto/bytes.js";
import { canonicalJson, parseJsonPayload } from "../../crypto/canonicalJson.js";
import { nativeSha256, serverEd25519 } from "../../crypto/native.js";
import { payloadPlainHashFromCanonical } from "../../crypto/payloadHash.js";
import { RECEIPT_PREIMAGE_BYTES } from "../../crypto/receiptHash.js";
import {
  decodeVerifyWork,
  FLAG_HAS_KEY,
  FLAG_PLAIN_HASH_GIVEN,
  FLAG_PLAINTEXT,
  RESULT_BYTES,
  STATUS,
} from "./verifyCodec.js";

export interface WorkerRequest {
  readonly id: number;
  readonly op: "verify" | "sign";
  readonly buffer: ArrayBuffer;
}

export interface WorkerResponse {
  readonly id: number;
  readonly buffer?: ArrayBuffer;
  /** [item index, message] for payloads that are not valid JSON. */
  readonly errors?: [number, string][];
  readonly failure?: string;
}

const ed25519 = serverEd25519();
const seed = (workerData as { signingSeed?: Uint8Array } | undefined)?.signingSeed;
const sign = seed === undefined ? undefined : ed25519.createSigner(seed);

function verify(buffer: ArrayBuffer): WorkerResponse & { buffer: ArrayBuffer } {
  const count = new DataView(buffer).getUint32(0);
  const out = new Uint8Array(count * RESULT_BYTES);
  const errors: [number, string][] = [];
  let i = 0;
  for (const w of decodeVerifyWork(buffer)) {
    let status: number | undefined;
    const plainAt = w.preimage.length - 64;
    if (w.flags & FLAG_PLAINTEXT) {
      let computed: Uint8Array | undefined;
      try {
        const value = parseJsonPayload(w.payload, "payload");
        if (value === null) throw new TypeError('"payload" expected a JSON value other than null, got null');
        computed = payloadPlainHashFromCanonical(nativeSha256, canonicalJson(value));
      } catch (err) {
        status = STATUS.badPayloadJson;
        errors.push([i, err instanceof Error ? err.message : String(err)]);
      }
      if (computed !== undefined) {
        if (w.flags & FLAG_PLAIN_HASH_GIVEN) {
          if (!equalBytes(computed, w.preimage.subarray(plainAt, plainAt + 32)))
            status = STATUS.payloadHashMismatch;
        } else {
          w.preimage.set(computed, plainAt);
        }
      }
    }
    const signingHash = nativeSha256(w.preimage);
    if (status === undefined) {
      status =
        w.flags & FLAG_HAS_KEY
          ? ed25519.verify(w.signature, signingHash, w.publicKey)
            ? STATUS.verified
            : STATUS.badSignature
          : STATUS.noKey;
    }
    const o = i * RESULT_BYTES;
    out[o] = status;
    out.set(signingHash, o + 1);
    out.set(w.preimage.subarray(plainAt, plainAt + 32), o + 33);
    i++;
  }
  return { id: 0, buffer: out.buffer, errors };
}

/** Receipt preimages in, (receipt hash ‖ signature) out. */
function signAll(buffer: ArrayBuffer): ArrayBuffer {
  if (sign === undefined) throw new Error("this crypto worker has no signing key");
  const preimages = new Uint8Array(buffer);
  const n = preimages.length / RECEIPT_PREIMAGE_BYTES;
  const out = new Uint8Array(n * 96);
  for (let j = 0; j < n; j++) {
    const hash = nativeSha256(
      preimages.subarray(j * RECEIPT_PREIMAGE_BYTES, (j + 1) * RECEIPT_PREIMAGE_BYTES),
    );
    out.set(hash, j * 96);
    out.set(sign(hash), j * 96 + 32);
  }
  return out.buffer;
}

parentPort?.on("message", (req: WorkerRequest) => {
  try {
    if (req.op === "verify") {
      const res = verify(req.buffer);
      parentPort?.postMessage({ ...res, id: req.id } satisfies WorkerResponse, [res.buffer]);
    } else {
      const out = signAll(req.buffer);
      parentPort?.postMessage({ id: req.id, buffer: out } satisfies WorkerResponse, [out]);
    }
  } catch (err) {
    parentPort?.postMessage({
      id: req.id,
      failure: err instanceof Error ? err.message : String(err),
    } satisfies WorkerResponse);
  }
});

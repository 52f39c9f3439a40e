// A receipt-verification worker thread of the SDK (verifyThreads): Ed25519 checks packed by verifyPool.ts,
// [public key 32 ‖ message 32 ‖ signature 64] each, one byte out per check (1 = verifies).
import { parentPort } from "node:worker_threads";
import { serverEd25519 } from "../crypto/native.js";
import { CHECK_BYTES, type VerifyRequest, type VerifyResponse } from "./verifyCodec.js";

const ed25519 = serverEd25519();

parentPort?.on("message", (req: VerifyRequest) => {
  const input = new Uint8Array(req.buffer);
  const n = input.length / CHECK_BYTES;
  const out = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const o = j * CHECK_BYTES;
    try {
      const publicKey = input.subarray(o, o + 32);
      const message = input.subarray(o + 32, o + 64);
      const signature = input.subarray(o + 64, o + 128);
      out[j] = ed25519.verify(signature, message, publicKey) ? 1 : 0;
    } catch {
      out[j] = 0;
    }
  }
  parentPort?.postMessage({ id: req.id, buffer: out.buffer } satisfies VerifyResponse, [out.buffer]);
});

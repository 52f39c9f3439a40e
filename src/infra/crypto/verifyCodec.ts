// Binary framing of ingest crypto work between the event loop and the crypto workers: one transferable
// buffer per chunk, no structured cloning of per-event objects.

export const STATUS = {
  verified: 0,
  badSignature: 1,
  noKey: 2,
  badPayloadJson: 3,
  payloadHashMismatch: 4,
} as const;

export const FLAG_HAS_KEY = 1;
export const FLAG_PLAIN_HASH_GIVEN = 2;
export const FLAG_PLAINTEXT = 4;

/** One event's crypto work: the full signing preimage (plain hash zeroed when the worker must fill it in). */
export interface VerifyWork {
  readonly flags: number;
  readonly publicKey: Uint8Array | undefined;
  readonly signature: Uint8Array;
  readonly preimage: Uint8Array;
  readonly payload: Uint8Array | undefined;
}

export const RESULT_BYTES = 1 + 32 + 32;

export function encodeVerifyWork(items: readonly VerifyWork[]): ArrayBuffer {
  let size = 4;
  for (const it of items) size += 1 + 32 + 64 + 4 + it.preimage.length + 4 + (it.payload?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length);
  let o = 4;
  for (const it of items) {
    out[o] = it.flags;
    o += 1;
    if (it.publicKey !== undefined) out.set(it.publicKey, o);
    o += 32;
    out.set(it.signature, o);
    o += 64;
    view.setUint32(o, it.preimage.length);
    o += 4;
    out.set(it.preimage, o);
    o += it.preimage.length;
    const payloadLength = it.payload?.length ?? 0;
    view.setUint32(o, payloadLength);
    o += 4;
    if (it.payload !== undefined) out.set(it.payload, o);
    o += payloadLength;
  }
  return out.buffer;
}

export interface DecodedWork {
  readonly flags: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
  /** A view into the work buffer; the worker may write the plain hash into it. */
  readonly preimage: Uint8Array;
  readonly payload: Uint8Array;
}

export function* decodeVerifyWork(buffer: ArrayBuffer): Generator<DecodedWork> {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const count = view.getUint32(0);
  let o = 4;
  for (let i = 0; i < count; i++) {
    const flags = bytes[o] as number;
    o += 1;
    const publicKey = bytes.subarray(o, o + 32);
    o += 32;
    const signature = bytes.subarray(o, o + 64);
    o += 64;
    const preimageLength = view.getUint32(o);
    o += 4;
    const preimage = bytes.subarray(o, o + preimageLength);
    o += preimageLength;
    const payloadLength = view.getUint32(o);
    o += 4;
    const payload = bytes.subarray(o, o + payloadLength);
    o += payloadLength;
    yield { flags, publicKey, signature, preimage, payload };
  }
}

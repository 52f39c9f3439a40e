"""VES v1.0 agent in Python (grpcio + cryptography), an implementation independent of the TypeScript SDK.

Checks its own hashing against the known-answer vectors, registers an Ed25519 agent key with proof of
possession (docs/protocol.md §2.7), streams signed plaintext events (§2.2, §2.3) through the bidirectional
Append RPC with two batches pipelined, and verifies every receipt (§2.4) against the sequencer key from
GetSequencerInfo. Prints one JSON summary line on stdout; any failed check raises and exits non-zero.

Run with Debian's interpreter (`command -p python3`), which sees python3-grpcio, python3-protobuf and
python3-cryptography; stubs come from `python3 -m grpc_tools.protoc` (python3-grpc-tools) in --stubs.
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import threading
import uuid
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DOMAIN_PAYLOAD_PLAIN = b"VES_PAYLOAD_PLAIN_V1"
DOMAIN_EVENTSIG = b"VES_EVENTSIG_V1"
DOMAIN_RECEIPT = b"VES_RECEIPT_V1"
DOMAIN_POP = b"VES_POP_V1"
ZERO32 = bytes(32)


def check(condition, message):
    """Like assert, but survives `python -O`."""
    if not condition:
        raise AssertionError(message)


def sha256(data):
    return hashlib.sha256(data).digest()


def u32(n):
    return struct.pack(">I", n)


def u64(n):
    return struct.pack(">Q", n)


def uuid_bytes(s):
    # RFC 4122 bytes in the order the hex is written (§0, "UUID(x)").
    return uuid.UUID(s).bytes


def enc_str(s):
    b = s.encode("utf-8")
    return u32(len(b)) + b


def canonical_json(value):
    # RFC 8785 (JCS) for the payloads used here only: objects with ASCII keys and string or integer
    # values (integers below 2**53). For those, sorted keys, no whitespace and raw (unescaped) non-ASCII
    # characters are exactly JCS. Floats (ES6 number formatting) and non-BMP keys (UTF-16 key order) would
    # need a real JCS library, so the payloads below never contain them.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_plain_hash(canonical_text):
    # §2.2: H("VES_PAYLOAD_PLAIN_V1" || JCS(payload)).
    return sha256(DOMAIN_PAYLOAD_PLAIN + canonical_text.encode("utf-8"))


def event_signing_preimage(e):
    # §2.3, fields in this order; 171 bytes plus the UTF-8 bytes of the four strings.
    pre = (
        DOMAIN_EVENTSIG
        + u32(e["ves_version"])
        + uuid_bytes(e["tenant_id"])
        + uuid_bytes(e["store_id"])
        + uuid_bytes(e["event_id"])
        + uuid_bytes(e["source_agent_id"])
        + u32(e["agent_key_id"])
        + enc_str(e["entity_type"])
        + enc_str(e["entity_id"])
        + enc_str(e["event_type"])
        + enc_str(e["created_at"])
        + u32(e["payload_kind"])
        + e["payload_plain_hash"]
        + e["payload_cipher_hash"]
    )
    strings = sum(len(e[k].encode("utf-8")) for k in ("entity_type", "entity_id", "event_type", "created_at"))
    check(len(pre) == 171 + strings, f"signing preimage is {len(pre)} bytes, expected {171 + strings}")
    return pre


def receipt_hash(tenant_id, store_id, event_id, sequence_number, signing_hash):
    # §2.4: a 102-byte preimage; the sequencer signs these 32 bytes directly.
    pre = (
        DOMAIN_RECEIPT
        + uuid_bytes(tenant_id)
        + uuid_bytes(store_id)
        + uuid_bytes(event_id)
        + u64(sequence_number)
        + signing_hash
    )
    check(len(pre) == 102, f"receipt preimage is {len(pre)} bytes, expected 102")
    return sha256(pre)


def pop_challenge(public_key):
    # §2.7: H("VES_POP_V1" || public key).
    return sha256(DOMAIN_POP + public_key)


def raw_public_key(private_key):
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def signer_from_seed(seed_hex):
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def self_check(vectors_path):
    """Every hash and signature construction above against test/vectors/ves-v1.json; returns the count."""
    with open(vectors_path, encoding="utf-8") as f:
        v = json.load(f)
    n = 0
    for t in v["payloadPlainHash"]["vectors"]:
        if t["saltHex"] is not None:
            continue  # salted hashes belong to encrypted payloads, which this client does not send
        canonical = canonical_json(json.loads(t["payloadJson"]))
        check(canonical == t["canonicalJson"], f"JCS {t['name']}: {canonical!r} != {t['canonicalJson']!r}")
        check(payload_plain_hash(canonical).hex() == t["expectedHex"], f"payload_plain_hash {t['name']}")
        n += 1
    for t in v["eventSigningHash"]["vectors"]:
        ev = t["event"]
        fields = {
            "ves_version": ev["vesVersion"],
            "tenant_id": ev["tenantId"],
            "store_id": ev["storeId"],
            "event_id": ev["eventId"],
            "source_agent_id": ev["sourceAgentId"],
            "agent_key_id": ev["agentKeyId"],
            "entity_type": ev["entityType"],
            "entity_id": ev["entityId"],
            "event_type": ev["eventType"],
            "created_at": ev["createdAt"],
            "payload_kind": ev["payloadKind"],
            "payload_plain_hash": bytes.fromhex(ev["payloadPlainHashHex"]),
            "payload_cipher_hash": bytes.fromhex(ev["payloadCipherHashHex"]),
        }
        pre = event_signing_preimage(fields)
        check(len(pre) == t["preimageLength"], f"signing preimage length {t['name']}")
        h = sha256(pre)
        check(h.hex() == t["expectedHex"], f"event signing hash {t['name']}: {h.hex()}")
        if "signature" in t:
            sig = signer_from_seed(t["signature"]["seedHex"]).sign(h)
            check(sig.hex() == t["signature"]["expectedHex"], f"agent signature {t['name']}")
        n += 1
    for t in v["receipt"]["vectors"]:
        h = receipt_hash(
            t["tenantId"],
            t["storeId"],
            t["eventId"],
            int(t["sequenceNumber"]),
            bytes.fromhex(t["eventSigningHashHex"]),
        )
        check(h.hex() == t["expectedHex"], f"receipt hash {t['name']}: {h.hex()}")
        sig = signer_from_seed(t["signature"]["seedHex"]).sign(h)
        check(sig.hex() == t["signature"]["expectedHex"], f"receipt signature {t['name']}")
        n += 1
    for t in v["proofOfPossession"]["vectors"]:
        c = pop_challenge(bytes.fromhex(t["publicKeyHex"]))
        check(c.hex() == t["expectedChallengeHex"], "proof-of-possession challenge")
        signer = signer_from_seed(t["signature"]["seedHex"])
        check(raw_public_key(signer).hex() == t["publicKeyHex"], "RFC 8032 public key")
        check(signer.sign(c).hex() == t["signature"]["expectedHex"], "proof-of-possession signature")
        n += 1
    return n


def created_at_now():
    # RFC 3339 UTC with milliseconds, e.g. "2025-01-01T00:00:00.123Z"; signed and stored as this exact string.
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api_key_interceptor(grpc, key):
    """A channel interceptor adding `authorization: ApiKey <key>` to the metadata of every call."""
    import collections

    class Details(
        collections.namedtuple(
            "Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
        ),
        grpc.ClientCallDetails,
    ):
        pass

    class Interceptor(
        grpc.UnaryUnaryClientInterceptor,
        grpc.UnaryStreamClientInterceptor,
        grpc.StreamUnaryClientInterceptor,
        grpc.StreamStreamClientInterceptor,
    ):
        def _details(self, d):
            metadata = list(d.metadata or []) + [("authorization", f"ApiKey {key}")]
            return Details(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready, d.compression)

        def intercept_unary_unary(self, continuation, details, request):
            return continuation(self._details(details), request)

        def intercept_unary_stream(self, continuation, details, request):
            return continuation(self._details(details), request)

        def intercept_stream_unary(self, continuation, details, requests):
            return continuation(self._details(details), requests)

        def intercept_stream_stream(self, continuation, details, requests):
            return continuation(self._details(details), requests)

    return Interceptor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="host:port of the sequencer")
    ap.add_argument("--stubs", required=True, help="directory with the grpc_tools.protoc output")
    ap.add_argument("--vectors", required=True, help="test/vectors/ves-v1.json")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--per-batch", type=int, default=5)
    ap.add_argument(
        "--api-key",
        default=os.environ.get("VES_API_KEY"),
        help="credential sent as 'authorization: ApiKey <key>' on every call (default: VES_API_KEY)",
    )
    args = ap.parse_args()

    known_answers = self_check(args.vectors)

    sys.path.insert(0, args.stubs)
    import grpc
    from google.protobuf import __version__ as protobuf_version
    from ves.sequencer.v1 import (
        event_pb2,
        key_registry_pb2,
        key_registry_pb2_grpc,
        sequencer_pb2,
        sequencer_pb2_grpc,
    )

    channel = grpc.insecure_channel(args.target)
    grpc.channel_ready_future(channel).result(timeout=15)
    if args.api_key:
        channel = grpc.intercept_channel(channel, api_key_interceptor(grpc, args.api_key))
    sequencer = sequencer_pb2_grpc.SequencerServiceStub(channel)
    registry = key_registry_pb2_grpc.KeyRegistryServiceStub(channel)

    info = sequencer.GetSequencerInfo(sequencer_pb2.GetSequencerInfoRequest(), timeout=10)
    check(info.protocol_version == "VES/1.0", f"protocol_version {info.protocol_version!r}")
    current = [k for k in info.signing_keys if k.current]
    check(len(current) == 1 and current[0].algorithm == "ed25519", f"current signing keys: {current}")
    seq_key = current[0]
    check(len(seq_key.public_key) == 32, "sequencer public key length")
    sequencer_public_key = Ed25519PublicKey.from_public_bytes(seq_key.public_key)

    # The agent: a fresh Ed25519 key, registered with proof of possession.
    tenant_id, store_id, agent_id = (str(uuid.uuid4()) for _ in range(3))
    key_id = 1
    agent_key = Ed25519PrivateKey.generate()
    agent_public_key = raw_public_key(agent_key)
    registered = registry.RegisterAgentKey(
        key_registry_pb2.RegisterAgentKeyRequest(
            tenant_id=tenant_id,
            agent_id=agent_id,
            key_id=key_id,
            public_key=agent_public_key,
            proof_of_possession=agent_key.sign(pop_challenge(agent_public_key)),
        ),
        timeout=10,
    )
    check(registered.key.public_key == agent_public_key, "registered key differs from ours")
    check(registered.key.status == key_registry_pb2.KEY_STATUS_ACTIVE, f"key status {registered.key.status}")

    # The events, signed; payload values are strings and integers only (see canonical_json).
    batches = []
    k = 0
    for b in range(args.batches):
        events = []
        for _ in range(args.per_batch):
            k += 1
            payload_text = canonical_json({"n": k, "sku": f"SKU-{k:04d}", "qty": 3 * k, "note": "café ✓"})
            fields = {
                "ves_version": 1,
                "tenant_id": tenant_id,
                "store_id": store_id,
                "event_id": str(uuid.uuid4()),
                "source_agent_id": agent_id,
                "agent_key_id": key_id,
                "entity_type": "order",
                "entity_id": f"order-{k}",
                "event_type": "order.created",
                "created_at": created_at_now(),
                "payload_kind": 0,
                "payload_plain_hash": payload_plain_hash(payload_text),
                "payload_cipher_hash": ZERO32,
            }
            signing_hash = sha256(event_signing_preimage(fields))
            message = event_pb2.Event(
                ves_version=1,
                event_id=fields["event_id"],
                tenant_id=tenant_id,
                store_id=store_id,
                source_agent_id=agent_id,
                agent_key_id=key_id,
                entity_type=fields["entity_type"],
                entity_id=fields["entity_id"],
                event_type=fields["event_type"],
                created_at=fields["created_at"],
                payload_kind=event_pb2.PAYLOAD_KIND_PLAINTEXT,
                payload=payload_text.encode("utf-8"),
                payload_plain_hash=fields["payload_plain_hash"],
                payload_cipher_hash=ZERO32,
                agent_signature=agent_key.sign(signing_hash),
                agent_signature_scheme=1,
            )
            events.append({"id": fields["event_id"], "signing_hash": signing_hash, "message": message})
        batches.append({"batch_id": f"py-{b}-{uuid.uuid4().hex[:8]}", "events": events})

    # Both batches go out before any answer is read; the request side stays open until every answer is in, so
    # the server must answer without waiting for the client to half-close.
    state = {"sent": 0}
    all_answered = threading.Event()

    def requests():
        for batch in batches:
            state["sent"] += 1
            events = [e["message"] for e in batch["events"]]
            yield sequencer_pb2.AppendRequest(batch_id=batch["batch_id"], events=events)
        all_answered.wait(timeout=30)

    sent_before_first_response = None
    answered = []
    try:
        for response in sequencer.Append(requests(), timeout=30):
            if sent_before_first_response is None:
                sent_before_first_response = state["sent"]
            answered.append(response)
            if len(answered) == len(batches):
                all_answered.set()
    finally:
        all_answered.set()
    check(len(answered) == len(batches), f"{len(answered)} answers for {len(batches)} batches")

    # Every receipt: ours, in order, hash recomputed, signature verified with the sequencer key.
    sequences = []
    expected_sequence = 1
    for batch, response in zip(batches, answered):
        check(response.WhichOneof("kind") == "batch_result", f"response kind {response.WhichOneof('kind')}")
        result = response.batch_result
        sent_id = batch["batch_id"]
        check(result.batch_id == sent_id, f"batch id {result.batch_id!r}, sent {sent_id!r}")
        check(not result.HasField("error"), f"batch refused: {result.error}")
        check(result.accepted_count == len(batch["events"]), f"accepted {result.accepted_count}")
        check(len(result.results) == len(batch["events"]), "one result per event")
        for ev, item in zip(batch["events"], result.results):
            outcome = item.WhichOneof("outcome")
            check(outcome == "receipt", f"event {ev['id']}: {outcome} {item.rejection if outcome else ''}")
            r = item.receipt
            check(r.event_id == ev["id"], f"receipt for {r.event_id}, expected {ev['id']}")
            check((r.tenant_id, r.store_id) == (tenant_id, store_id), "receipt stream")
            seq = r.sequence_number
            check(seq == expected_sequence, f"sequence {seq}, expected {expected_sequence}")
            check(r.event_signing_hash == ev["signing_hash"], f"signing hash differs for {ev['id']}")
            check(r.sequencer_id == info.sequencer_id, "receipt sequencer_id")
            check(r.sequencer_key_id == seq_key.key_id, "receipt sequencer_key_id")
            check(r.signature_alg == "ed25519", f"signature_alg {r.signature_alg!r}")
            h = receipt_hash(tenant_id, store_id, ev["id"], r.sequence_number, ev["signing_hash"])
            check(r.receipt_hash == h, f"receipt hash differs for sequence {r.sequence_number}")
            sequencer_public_key.verify(r.sequencer_signature, h)  # raises InvalidSignature
            sequences.append(r.sequence_number)
            expected_sequence += 1
        check(result.head_sequence == expected_sequence - 1, f"head {result.head_sequence}")

    # The verifier can say no: one flipped bit in a receipt signature must fail.
    first = answered[0].batch_result.results[0].receipt
    tampered = bytes([first.sequencer_signature[0] ^ 1]) + first.sequencer_signature[1:]
    try:
        sequencer_public_key.verify(tampered, first.receipt_hash)
        tampered_rejected = False
    except InvalidSignature:
        tampered_rejected = True
    check(tampered_rejected, "a tampered receipt signature verified")

    head = sequencer.GetHead(sequencer_pb2.GetHeadRequest(tenant_id=tenant_id, store_id=store_id), timeout=10)
    check(head.head_sequence == len(sequences), f"head {head.head_sequence}, expected {len(sequences)}")
    channel.close()

    print(
        json.dumps(
            {
                "ok": True,
                "known_answers": known_answers,
                "tenant_id": tenant_id,
                "store_id": store_id,
                "agent_id": agent_id,
                "agent_public_key": agent_public_key.hex(),
                "sequencer_id": info.sequencer_id,
                "sequencer_public_key": seq_key.public_key.hex(),
                "batch_ids": [r.batch_result.batch_id for r in answered],
                "sent_before_first_response": sent_before_first_response,
                "events": [
                    {"event_id": ev["id"], "signing_hash": ev["signing_hash"].hex()}
                    for batch in batches
                    for ev in batch["events"]
                ],
                "sequences": sequences,
                "verified_receipts": len(sequences),
                "tampered_receipt_rejected": tampered_rejected,
                "head_sequence": head.head_sequence,
                "grpc_version": grpc.__version__,
                "protobuf_version": protobuf_version,
            }
        )
    )


if __name__ == "__main__":
    main()

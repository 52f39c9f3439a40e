// ves verify: check receipts, inclusion proofs and consistency proofs from files (JSON or NDJSON, protobuf JSON
// form) or fetched from the server, against the pinned sequencer key (ves-protocol.md §2.4-§2.6).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { ReceiptSchema } from "../../../gen/ves/sequencer/v1/event_pb.js";
import {
  GetConsistencyProofResponseSchema,
  GetInclusionProofResponseSchema,
  ProofService,
} from "../../../gen/ves/sequencer/v1/proof_pb.js";
import { createReader } from "../../client/createReader.js";
import { verifyCheckpointSignature } from "../../client/verifyCheckpointSignature.js";
import { verifyConsistency } from "../../client/verifyConsistency.js";
import { verifyInclusionProof } from "../../client/verifyInclusionProof.js";
import { verifyReceipt } from "../../client/verifyReceipt.js";
import { nodeCrypto } from "../../node/createAgent.js";
import {
  bigintOption,
  COMMON_HELP,
  COMMON_OPTIONS,
  connection,
  EXIT,
  type Io,
  line,
  sequencerKey,
  UsageError,
  uuidOption,
} from "./common.js";

export const VERIFY_HELP = `ves verify <what> [FILE|-] [options]

  receipt FILE       every receipt in FILE: a Receipt, or any object with a "receipt" field (an export line,
                     a GetInclusionProof answer); NDJSON checks each line
  inclusion FILE     a GetInclusionProof answer {"proof","commitment"[,"receipt"]}: the checkpoint's signature,
                     the proof up to its Merkle root, and the receipt with it when present
  consistency FILE   a GetConsistencyProof answer {"proof","from","to"}: both checkpoints' signatures and that
                     "to" extends "from"
  event              fetch from the server and check one event end to end: --tenant UUID --store UUID
                     (--event-id UUID | --sequence N): the event (payload hash, agent signature, receipt), its
                     inclusion proof and signed checkpoint

FILE "-" (or no FILE) reads stdin. Prints one JSON verdict per item: {"valid":true,...} or
{"valid":false,"reason","message"}. Exit 0 when everything verified, 1 otherwise.

${COMMON_HELP}`;

function readInput(file: string | undefined, io: Io): JsonValue[] {
  let text: string;
  try {
    text = readFileSync(file === undefined || file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read "${file ?? "-"}": ${(err as Error).message}`);
  }
  void io;
  try {
    return [JSON.parse(text) as JsonValue];
  } catch {
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l, i) => {
        try {
          return JSON.parse(l) as JsonValue;
        } catch (err) {
          throw new UsageError(`line ${i + 1}: not JSON: ${(err as Error).message}`);
        }
      });
  }
}

function decode<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new UsageError(`not a ${what}: ${(err as Error).message}`);
  }
}

export async function verify(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      tenant: { type: "string" },
      store: { type: "string" },
      "event-id": { type: "string" },
      sequence: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || positionals.length === 0) {
    io.stdout.write(`${VERIFY_HELP}\n`);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const [what, file, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const conn = connection(values, io);
  const c = nodeCrypto();
  const opts = { sha256: c.sha256, ed25519: c.ed25519 };
  let allValid = true;
  const verdict = (
    item: Record<string, unknown>,
    v: { valid: boolean; reason?: string; message?: string },
  ): void => {
    allValid &&= v.valid;
    line(io.stdout, { ...item, ...v });
  };

  switch (what) {
    case "receipt": {
      const items = readInput(file, io);
      const key = await sequencerKey(values["sequencer-key"], conn, io);
      for (const [i, item] of items.entries()) {
        const json =
          item !== null && typeof item === "object" && !Array.isArray(item) && "receipt" in item
            ? (item.receipt as JsonValue)
            : item;
        const r = decode("receipt", () => fromJson(ReceiptSchema, json));
        verdict({ item: i + 1, eventId: r.eventId, sequence: r.sequenceNumber }, verifyReceipt(r, key, opts));
      }
      break;
    }
    case "inclusion": {
      const key = await sequencerKey(values["sequencer-key"], conn, io);
      for (const [i, item] of readInput(file, io).entries()) {
        const res = decode("GetInclusionProof answer", () => fromJson(GetInclusionProofResponseSchema, item));
        if (res.proof === undefined || res.commitment === undefined) {
          throw new UsageError(`item ${i + 1}: expected "proof" and "commitment"`);
        }
        const id = { item: i + 1, eventId: res.proof.eventId, sequence: res.proof.sequenceNumber };
        const cp = verifyCheckpointSignature(res.commitment, key, opts);
        if (!cp.valid) {
          verdict(id, cp);
          continue;
        }
        verdict(
          id,
          res.receipt === undefined
            ? verifyInclusionProof(res.proof, { expectedRoot: res.commitment.merkleRoot, sha256: c.sha256 })
            : verifyReceipt(res.receipt, key, {
                ...opts,
                upgrade: { proof: res.proof, checkpoint: res.commitment },
              }),
        );
      }
      break;
    }
    case "consistency": {
      const key = await sequencerKey(values["sequencer-key"], conn, io);
      for (const [i, item] of readInput(file, io).entries()) {
        const res = decode("GetConsistencyProof answer", () =>
          fromJson(GetConsistencyProofResponseSchema, item),
        );
        if (res.proof === undefined || res.to === undefined)
          throw new UsageError(`item ${i + 1}: expected "proof" and "to"`);
        const id = { item: i + 1, from: res.proof.fromSequenceEnd, to: res.proof.toSequenceEnd };
        const bad = [res.from, res.to]
          .filter((x) => x !== undefined)
          .map((x) => verifyCheckpointSignature(x, key, opts))
          .find((v) => !v.valid);
        verdict(
          id,
          bad ??
            verifyConsistency(res.proof, {
              ...(res.from === undefined ? {} : { from: res.from }),
              to: res.to,
              sha256: c.sha256,
            }),
        );
      }
      break;
    }
    case "event": {
      if (file !== undefined)
        throw new UsageError(`"verify event" reads from the server, not from "${file}"`);
      const tenantId = uuidOption(values.tenant, "--tenant", "VES_TENANT", io);
      const storeId = uuidOption(values.store, "--store", "VES_STORE", io);
      if ((values["event-id"] === undefined) === (values.sequence === undefined)) {
        throw new UsageError("give one of --event-id UUID or --sequence N");
      }
      const key = await sequencerKey(values["sequencer-key"], conn, io);
      const res = await createClient(ProofService, conn.transport).getInclusionProof(
        {
          tenantId,
          storeId,
          selector:
            values["event-id"] === undefined
              ? { case: "sequenceNumber", value: bigintOption(values.sequence, "--sequence", 0n) }
              : { case: "eventId", value: values["event-id"].toLowerCase() },
        },
        { headers: conn.headers },
      );
      if (res.proof === undefined || res.commitment === undefined || res.receipt === undefined) {
        throw new UsageError("the server returned no proof for that event");
      }
      const reader = createReader({
        transport: conn.transport,
        ...(conn.credential === undefined ? {} : { credential: conn.credential }),
        tenantId,
        storeId,
        sequencerKey: key,
        ...opts,
      });
      const page = await reader.pull({ from: res.proof.sequenceNumber, limit: 1 }); // throws if it does not verify
      const se = page.events[0];
      const id = {
        eventId: res.proof.eventId,
        sequence: res.proof.sequenceNumber,
        commitmentId: res.commitment.commitmentId,
      };
      if (se?.event?.eventId !== res.proof.eventId) {
        verdict(id, {
          valid: false,
          reason: "event_mismatch",
          message: "the event read back is not the proven one",
        });
        break;
      }
      verdict(
        id,
        verifyReceipt(res.receipt, key, {
          ...opts,
          upgrade: { proof: res.proof, checkpoint: res.commitment },
        }),
      );
      break;
    }
    default:
      throw new UsageError(`unknown "verify ${what}": expected receipt, inclusion, consistency or event`);
  }
  return allValid ? EXIT.ok : EXIT.failed;
}

// ves status: the sequencer's identity, keys and limits, and with --tenant/--store the stream's head and sealed
// position.
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { ProofService } from "../../../gen/ves/sequencer/v1/proof_pb.js";
import { SequencerService } from "../../../gen/ves/sequencer/v1/sequencer_pb.js";
import { bytesToHex } from "../../crypto/bytes.js";
import { COMMON_HELP, COMMON_OPTIONS, connection, EXIT, type Io, line, uuidOption } from "./common.js";

export const STATUS_HELP = `ves status [--tenant UUID --store UUID]

Prints one JSON object: the sequencer's id, protocol and server version, receipt keys (id, hex, current) and
limits; with a stream, also its head, the last sealed sequence number and the latest commitment's id.
Exit 0 when the sequencer answered, 3 when it is unreachable, 4 when the credential is refused.

${COMMON_HELP}`;

export async function status(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON_OPTIONS, tenant: { type: "string" }, store: { type: "string" } },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${STATUS_HELP}\n`);
    return EXIT.ok;
  }
  const conn = connection(values, io);
  const info = await createClient(SequencerService, conn.transport).getSequencerInfo(
    {},
    { headers: conn.headers },
  );
  const out: Record<string, unknown> = {
    url: conn.url,
    sequencerId: info.sequencerId,
    protocolVersion: info.protocolVersion,
    serverVersion: info.serverVersion,
    keys: info.signingKeys.map((k) => ({
      keyId: k.keyId,
      publicKey: bytesToHex(k.publicKey),
      current: k.current,
    })),
    limits: info.limits,
  };
  if (values.tenant !== undefined || values.store !== undefined) {
    const tenantId = uuidOption(values.tenant, "--tenant", "VES_TENANT", io);
    const storeId = uuidOption(values.store, "--store", "VES_STORE", io);
    const s = await createClient(ProofService, conn.transport).getSyncState(
      { tenantId, storeId },
      { headers: conn.headers },
    );
    out.stream = {
      tenantId,
      storeId,
      head: s.headSequence,
      sealed: s.sealedSequence,
      latestCommitmentId: s.latestCommitment?.commitmentId ?? null,
    };
  }
  if (out.limits !== undefined) {
    const { $typeName: _, ...limits } = info.limits as NonNullable<typeof info.limits>;
    out.limits = limits;
  }
  line(io.stdout, out);
  return EXIT.ok;
}

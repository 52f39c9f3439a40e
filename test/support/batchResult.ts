// The BatchResult of an Append response (undefined for other kinds, e.g. receipt upgrades).
import type { AppendResponse, BatchResult } from "../../gen/ves/sequencer/v1/sequencer_pb.js";

export function batchResultOf(res: AppendResponse | undefined): BatchResult | undefined {
  return res?.kind.case === "batchResult" ? res.kind.value : undefined;
}

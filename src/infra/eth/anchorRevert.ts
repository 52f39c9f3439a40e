// Reads a VesAnchor custom error (SequenceGap, StateRootMismatch, ...) out of a viem error, if it is one.
import { BaseError, ContractFunctionRevertedError } from "viem";

export interface AnchorRevert {
  readonly errorName: string;
  readonly args: readonly unknown[];
}

export function anchorRevert(err: unknown): AnchorRevert | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(reverted instanceof ContractFunctionRevertedError) || reverted.data === undefined) return undefined;
  return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] };
}

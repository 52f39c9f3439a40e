// A failure to start that the operator can act on: its message is one complete line (what, where, what to do),
// printed as is, without a stack.
export class StartupError extends Error {
  override readonly name = "StartupError";
}

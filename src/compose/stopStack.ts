// The composition root's shutdown order: every started part registers how to stop it, and they stop in reverse.
import type { Logger } from "pino";

export interface StopStack {
  /** Registers a step; steps run last-registered first, each after the previous one finished. */
  defer(step: () => Promise<void>): void;
  /** Runs every registered step once, logging (not throwing) a step that fails. */
  stopAll(): Promise<void>;
}

export function createStopStack(log: Logger): StopStack {
  const steps: (() => Promise<void>)[] = [];
  return {
    defer(step) {
      steps.push(step);
    },
    async stopAll() {
      while (steps.length > 0) {
        const step = steps.pop() as () => Promise<void>;
        await step().catch((err: unknown) => log.error({ err }, "shutdown step failed"));
      }
    },
  };
}

// The server's logger: pino's JSON lines (one structured event per line) wherever a machine reads the output, and
// pino-pretty's human-readable lines on a developer's terminal. The JSON path is plain pino, written from the
// main thread as before: no transport worker, no formatting cost.
import { createRequire } from "node:module";
import pino, { type Logger } from "pino";

// Loaded only when pretty lines are chosen.
const require = createRequire(import.meta.url);

export type LogFormat = "json" | "pretty";

/** LOG_FORMAT: "auto" chooses by where the output goes; "json" and "pretty" force one. */
export type LogFormatSetting = LogFormat | "auto";

/** auto: pretty only in development with stdout a terminal; JSON in production, in tests and into pipes. */
export function chooseLogFormat(
  setting: LogFormatSetting,
  env: "development" | "test" | "production",
  stdoutIsTty: boolean,
): LogFormat {
  if (setting !== "auto") return setting;
  return env === "development" && stdoutIsTty ? "pretty" : "json";
}

export interface LoggerOptions {
  readonly level: string;
  readonly format: LogFormat;
  /** Colours in pretty lines (a terminal). */
  readonly colorize: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.format === "json") return pino({ level: opts.level });
  // Synchronous: a line logged just before the process exits (a failed start) is not lost.
  const { build } = require("pino-pretty") as typeof import("pino-pretty");
  const stream = build({
    colorize: opts.colorize,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
  });
  return pino({ level: opts.level }, stream);
}

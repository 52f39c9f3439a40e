// Wiring of the server's connection limits (MAX_CONNECTIONS, idle timeouts, HTTP/2 keep-alive) from the config,
// with a log line when a limit closes a connection (at most one per kind and 10 s, so a flood cannot flood logs).
import type { Logger } from "pino";
import type { ConnectionLimits } from "../api/server.js";
import type { Config } from "../config.js";

export function connectionLimits(config: Config, log: Logger): ConnectionLimits {
  const lastLogged = new Map<string, number>();
  return {
    max: config.maxConnections,
    idleTimeoutMs: config.connectionIdleTimeoutMs,
    keepAliveIntervalMs: config.keepAliveIntervalMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    onClosed(why) {
      const now = Date.now();
      if (now - (lastLogged.get(why) ?? 0) < 10_000) return;
      lastLogged.set(why, now);
      const msg = {
        max_connections: "MAX_CONNECTIONS reached: refused a new connection",
        idle: "closed an idle connection",
        ping_timeout: "a client did not answer a keep-alive ping: disconnected",
      }[why];
      (why === "max_connections" ? log.warn : log.debug).call(log, { why }, msg);
    },
  };
}

// One TCP port for everything: HTTP/2 with prior knowledge (gRPC, Connect, gRPC-Web) and HTTP/1.1 (Connect,
// gRPC-Web, browsers, health checks), told apart by the first bytes of each connection.
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import type { GrpcUnaryHandler } from "./grpcUnary.js";

type FallbackArgs = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>;

/** A plain HTTP route: answers and returns true, or returns false to fall through. */
export type HttpRoute = (req: FallbackArgs[0], res: FallbackArgs[1]) => boolean;

export interface ServerOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
  readonly readMaxBytes: number;
  /** Plain HTTP routes (health, metrics); return false to fall through to 404. */
  readonly httpRoutes: HttpRoute;
  readonly onSocketError?: (err: Error) => void;
  /** Serves the hot unary gRPC calls it knows (grpcUnary.ts) ahead of connect; the rest go to connect. */
  readonly grpcUnary?: GrpcUnaryHandler;
  readonly connections?: ConnectionLimits;
}

export interface ConnectionLimits {
  /** Open TCP connections; past it a new connection is closed at once. 0: no bound. */
  readonly max: number;
  /** A connection with no request in progress for this long is closed (HTTP/2: GOAWAY). 0: never. */
  readonly idleTimeoutMs: number;
  /** How often an HTTP/2 peer is pinged; 0: never. */
  readonly keepAliveIntervalMs: number;
  /** A peer that does not answer a ping within this long is dropped. */
  readonly keepAliveTimeoutMs: number;
  /** Called when a connection is refused or closed by these limits (for logs and metrics). */
  readonly onClosed?: (why: "max_connections" | "idle" | "ping_timeout") => void;
}

export interface Server {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting connections, asks HTTP/2 clients to go away, and resolves when every connection closed. */
  close(timeoutMs: number): Promise<void>;
}

// The HTTP/2 connection preface starts with "PRI * HTTP/2.0"; no HTTP/1.1 method starts with "PRI".
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
// HTTP/2 flow-control windows sized for batch messages of a few hundred KB (the default 64 KiB halves throughput).
const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 32 * 1024 * 1024;
const FLUSH_GRACE_MS = 250;
const SESSION_MEMORY_MB = 128;

/**
 * Closes an HTTP/2 session that has had no open stream for `idleTimeoutMs` (GOAWAY: clients reconnect when they
 * have something to send), and pings the peer every `keepAliveIntervalMs`, dropping it when a ping goes
 * unanswered for `keepAliveTimeoutMs` (a peer that vanished without closing its TCP connection).
 */
function watchSession(session: http2.ServerHttp2Session, limits: ConnectionLimits): void {
  let open = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (limits.idleTimeoutMs <= 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (open > 0 || session.closed || session.destroyed) return;
      limits.onClosed?.("idle");
      session.close();
      // A peer that ignores the GOAWAY is dropped after a grace period.
      setTimeout(() => session.destroy(), 5_000).unref();
    }, limits.idleTimeoutMs);
    idleTimer.unref();
  };
  session.on("stream", (stream) => {
    open++;
    clearTimeout(idleTimer);
    stream.once("close", () => {
      open--;
      if (open === 0) armIdle();
    });
  });
  armIdle();
  let pinger: NodeJS.Timeout | undefined;
  if (limits.keepAliveIntervalMs > 0) {
    let awaiting = false;
    pinger = setInterval(() => {
      if (awaiting || session.closed || session.destroyed) return;
      awaiting = true;
      const deadline = setTimeout(() => {
        limits.onClosed?.("ping_timeout");
        session.destroy();
      }, limits.keepAliveTimeoutMs);
      deadline.unref();
      try {
        session.ping((err) => {
          clearTimeout(deadline);
          awaiting = false;
          if (err !== null && !session.destroyed) session.destroy();
        });
      } catch {
        // Too many unanswered pings or a session being torn down: the deadline decides.
      }
    }, limits.keepAliveIntervalMs);
    pinger.unref();
  }
  session.once("close", () => {
    clearTimeout(idleTimer);
    clearInterval(pinger);
  });
}

export function createServer(opts: ServerOptions): Server {
  const handler = connectNodeAdapter({
    routes: opts.routes,
    interceptors: opts.interceptors,
    readMaxBytes: opts.readMaxBytes,
    // Compressed requests are accepted, but responses go out uncompressed: receipts are mostly hashes and
    // signatures, which do not compress, and gzip would cost more CPU than the ingest itself.
    compressMinBytes: 0xffffffff,
    fallback(req, res) {
      if (!opts.httpRoutes(req, res)) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found\n");
      }
    },
  });
  // connect-node waits for "drain" (or "error") when a response write is blocked by flow control, but a stream the
  // client cancelled or reset emits only "close": a streaming handler would then stay suspended, holding its
  // subscription, forever. Waking that write lets the handler see its aborted signal and end.
  const serve = (req: FallbackArgs[0], res: FallbackArgs[1]): void => {
    res.once("close", () => {
      if (!res.writableFinished) res.emit("drain");
    });
    handler(req, res);
  };
  const h1 = http.createServer({ keepAliveTimeout: 5_000 }, serve);
  // Node refuses new streams on a connection whose queued output passes maxSessionMemory (10 MB by default), and
  // subscriptions sharing a connection each may have a message queued for a slow reader.
  const grpcUnary = opts.grpcUnary;
  const h2 = http2.createServer(
    { settings: { initialWindowSize: STREAM_WINDOW }, maxSessionMemory: SESSION_MEMORY_MB },
    grpcUnary === undefined
      ? serve
      : (req, res) => {
          if (!grpcUnary(req, res)) serve(req, res);
        },
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  // Responses in progress. Draining waits until each has been ended by its handler, then drops every
  // connection: idle HTTP/1.1 keep-alives, and streams whose response went out before their request body was
  // read (refused as too large), would otherwise hold the shutdown until the timeout.
  const responses = new Set<http.ServerResponse | http2.Http2ServerResponse>();
  let closing = false;
  const track = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): void => {
    responses.add(res);
    if (closing && req.httpVersionMajor === 1 && !res.headersSent) res.setHeader("connection", "close");
    const done = (): void => {
      responses.delete(res);
    };
    res.once("finish", done);
    res.once("close", done);
  };
  h1.on("request", track);
  h2.on("request", track);
  const limits = opts.connections;
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.once("connect", () => session.setLocalWindowSize(SESSION_WINDOW));
    if (limits !== undefined) watchSession(session, limits);
  });

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", (err) => opts.onSocketError?.(err));
    // A connection that never says which protocol it speaks is idle too.
    const idleMs = limits?.idleTimeoutMs ?? 0;
    if (idleMs > 0) {
      socket.setTimeout(idleMs, () => {
        limits?.onClosed?.("idle");
        socket.destroy();
      });
    }
    let seen = Buffer.alloc(0);
    const sniff = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && n < 3) return; // not enough bytes yet to tell "PRI" from "POST"/"PUT"/"PATCH"
      socket.off("data", sniff);
      // From here on the protocol's own idle handling applies (watchSession; HTTP/1.1 keep-alive timeout).
      if (idleMs > 0) socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      (isH2 ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    };
    socket.on("data", sniff);
  });
  if (limits !== undefined && limits.max > 0) {
    tcp.maxConnections = limits.max;
    tcp.on("drop", () => limits.onClosed?.("max_connections"));
  }

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve(tcp.address() as AddressInfo);
        });
      });
    },
    async close(timeoutMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const s of sessions) s.close();
      // A response whose handler ended it gets a moment to flush; one that has still not finished after that
      // is waiting on its client (an unread request body), not on us.
      const deadline = performance.now() + timeoutMs;
      const endedAt = new Map<unknown, number>();
      const pending = (): boolean => {
        const now = performance.now();
        for (const r of responses) {
          if (!r.writableEnded) return true;
          const t = endedAt.get(r) ?? now;
          endedAt.set(r, t);
          if (now - t < FLUSH_GRACE_MS) return true;
        }
        return false;
      };
      while (performance.now() < deadline && pending()) await new Promise((r) => setTimeout(r, 25));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

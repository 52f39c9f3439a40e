// The Node SDK's gRPC transport opens receive windows sized for batch answers: with Node's default 64 KiB the
// server stalls on WINDOW_UPDATE frames several times per Append answer (measured by `npm run bench -- sdk`).
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SequencerService } from "../gen/ves/sequencer/v1/sequencer_pb.js";
import { grpcTransport } from "../src/node/createAgent.js";

describe("the Node SDK's gRPC transport", () => {
  let server: http2.Http2Server;
  let url: string;
  const sessions: http2.ServerHttp2Session[] = [];
  const seen: { initialWindowSize: number | undefined; connectionWindow: number }[] = [];

  beforeAll(async () => {
    server = http2.createServer();
    server.on("session", (session) => sessions.push(session));
    server.on("stream", (stream) => {
      const session = stream.session as http2.ServerHttp2Session;
      seen.push({
        initialWindowSize: session.remoteSettings.initialWindowSize,
        connectionWindow: session.state.remoteWindowSize ?? 0,
      });
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "12", "grpc-message": "test" }));
      stream.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sessions) s.destroy(); // the transport keeps its connection open
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("announces a 4 MiB stream window and widens the connection window to 16 MiB", async () => {
    const client = createClient(SequencerService, grpcTransport(url));
    await expect(client.getHead({})).rejects.toThrow(/test/);
    await expect(client.getHead({})).rejects.toThrow(/test/); // the second call reuses the connection
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.initialWindowSize).toBe(4 * 1024 * 1024);
      expect(s.connectionWindow).toBeGreaterThanOrEqual(16 * 1024 * 1024 - 65_535);
    }
  });
});

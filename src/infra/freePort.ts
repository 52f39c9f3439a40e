// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it), for child servers that need a port
// number before they start: the embedded PostgreSQL, a development anvil, tests.
import net from "node:net";

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

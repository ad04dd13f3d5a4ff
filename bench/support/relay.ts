/** The baseline any Node proxy pays: a plain node:net TCP relay, and a TCP listener joined to streams of any kind. */
import { connect, createServer, type Server } from "node:net";
import type { Duplex } from "node:stream";

export type Opener = (port: number) => Promise<Duplex>;

/** A TCP listener on 127.0.0.1 whose connections are joined to what `open` makes for the target port. */
export async function relayServer(targetPort: number, open: Opener): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client) => {
    client.on("error", () => client.destroy());
    open(targetPort).then(
      (upstream) => {
        upstream.on("error", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

export const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A TCP connection to 127.0.0.1:port: the plain relay's opener. */
export function plainConnect(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    socket.once("connect", () => resolve(socket)).once("error", reject);
  });
}

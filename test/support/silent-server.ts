/**
 * A TCP server that accepts every connection and never answers: an endpoint that hangs (a stuck load balancer, a
 * half-open path). Records when each connection and each HTTP request line arrived.
 */
import { createServer, type Socket } from 'node:net';

export interface SilentServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Arrival times of the HTTP request lines seen (one per request, whichever connection carried it). */
  readonly requests: number[];
  readonly connections: number[];
  stop(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const requests: number[] = [];
  const connections: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections.push(Date.now());
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      const lines = chunk.toString('latin1').match(/^(GET|PUT|POST|PATCH|DELETE|HEAD) \S+ HTTP\/1\.[01]\r$/gm) ?? [];
      for (let i = 0; i < lines.length; i += 1) requests.push(Date.now());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * AMQP over TLS for the IoT Hub host itself (`{hub}.azure-devices.net:5671`), which the emulator does not serve: the
 * service side of azure-iothub `Client` (cloud-to-device send, feedback, file notifications) and the AMQP device
 * transport. emulator/connect.ts routes those connections here so they fail at once with the reason.
 *
 * A socket-level refusal would not do: azure-iothub's AMQP layer turns any disconnect while connecting into a
 * retryable `NotConnectedError('rhea: connection disconnected')` and drops the socket error (azure-iothub
 * dist/common-amqp/amqp.js, `connecting.disconnected`), so `Client.open` would retry for minutes. An AMQP close with
 * `amqp:not-implemented` is reported as the connection's error instead and becomes `NotImplementedError`
 * (dist/common-amqp/amqp_common_errors.js), which azure-iot-common's DefaultErrorFilter does not retry.
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { create_container } from 'rhea';
import type { EventContext } from 'rhea';

export interface NotEmulatedAmqpListenerOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Interface; default 127.0.0.1. */
  readonly host?: string;
  /** 0 (default) lets the OS choose. */
  readonly port?: number;
  /** The `description` of the close every connection receives. */
  readonly description: string;
}

export class NotEmulatedAmqpListener {
  private server: Server | undefined;
  private boundPort = 0;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: NotEmulatedAmqpListenerOptions) {}

  /** The bound port (after start). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const container = create_container({ id: 'iothub-emulator-not-emulated' });
    container.on('connection_open', (context: EventContext) => {
      context.connection.close({ condition: 'amqp:not-implemented', description: this.options.description });
    });
    // Errors are the client's to report; without a listener rhea would throw.
    container.on('error', () => undefined);
    container.on('connection_error', () => undefined);
    container.on('disconnected', () => undefined);
    const { key, cert, host = '127.0.0.1', port = 0 } = this.options;
    const server = container.listen({ transport: 'tls', key, cert, host, port });
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

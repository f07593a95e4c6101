/**
 * The emulated IoT Hub's built-in Event Hub-compatible endpoint (`messages/events`): an in-process AMQP
 * 1.0 server that `@azure/event-hubs` 6 talks to with `UseDevelopmentEmulator=true`. It serves `$cbs`
 * (SAS put-token), `$management` reads, producer links and partition receiver links with selector
 * filters, and is fed by the registry through {@link EventHubEndpoint.publishChange}.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo, Server, Socket } from 'node:net';
import { create_container } from 'rhea';
import type { Connection, Container, EventContext, Receiver, Sender } from 'rhea';
import type { HubChange, RouteSource } from '../hub-events';
import { buildNotification, buildTelemetry, routeSourceOf } from '../notifications';
import type { HubMessage, TelemetryOptions } from '../notifications';
import {
  amqpLong,
  completeLocalAttach,
  corkUntilNextTick,
  stopHeartbeats,
  decodeProducedTransfer,
  deliveryBudget,
  encodeHubMessage,
  encodeProducedEvent,
  readServiceRequest,
  remoteTerminusOf,
  serviceResponse,
} from './amqp';
import type { ProducedEvent, ServiceRequest } from './amqp';
import { partitionIndexForKey } from './partition-key-hash';
import { PartitionLog, parseSelector } from './partition-log';
import { admitReceiver, epochOf } from './receiver-ownership';
import { wantsRuntimeMetrics, withRuntimeMetrics } from './receiver-runtime-metrics';
import { verifySasToken } from './sas';

export interface EventHubEndpointOptions {
  /** IoT Hub name: `hubName` application property and `user-id` of notifications. */
  hubName: string;
  /** Event Hub-compatible name (the `EntityPath`); link addresses are matched case-insensitively. */
  eventHubName: string;
  /** Fixed for the endpoint's lifetime, like a real hub; IoT Hub allows 2–128 (default 4). */
  partitionCount: number;
  /** Extra consumer groups; `$Default` always exists. */
  consumerGroups: string[];
  sharedAccessKeyName: string;
  sharedAccessKey: string;
  /** Routing sources sent to the endpoint; changes from other sources are dropped, as IoT Hub does. */
  routes: readonly RouteSource[];
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 (default) lets the OS pick; read the result from {@link EventHubEndpoint.port}. */
  port?: number;
  /** Max events kept per partition (default 1,000,000); the oldest are evicted first. */
  retentionPerPartition?: number;
  /** Verify SAS tokens on `$cbs` and `$management` (default true); failures answer 401. */
  verifyTokens?: boolean;
  /**
   * Accept events sent to the endpoint (default false). IoT Hub's built-in endpoint is read-only: a producer's
   * link is detached with `amqp:unauthorized-access` "'Send' claim(s) are required" (reported in
   * home-assistant/core#81084 and Azure/azure-sdk-for-js#2773); tests that forge notifications turn this on.
   */
  acceptProducedEvents?: boolean;
  /** Also listen for AMQP over TLS (what clients with a `….servicebus.windows.net` Endpoint use, on 5671), with this certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer; port?: number };
}

/** Size of one Event Hubs publication on the Standard tier; the SDK sizes its batches from it. */
const MAX_MESSAGE_SIZE = 1024 * 1024;
const DEFAULT_RETENTION = 1_000_000;
const DEFAULT_CONSUMER_GROUP = '$Default';

/** A consumer's receiver link on one partition, seen from the server as a sending link. */
interface PartitionReader {
  readonly sender: Sender;
  readonly log: PartitionLog;
  readonly connection: Connection;
  nextSequenceNumber: number;
  handedToRhea: number;
  /** The receiver asked for last-enqueued event properties (receiver-runtime-metrics.ts). */
  runtimeMetrics: boolean;
  /** Lower-cased consumer group: ownership (receiver-ownership.ts) is per partition and consumer group. */
  consumerGroup: string;
  /** Owner level from the attach (`com.microsoft:epoch`), undefined for a non-epoch receiver. */
  epoch: number | undefined;
}

interface ConnectionAuth {
  /** Lower-cased entity paths a valid token was put for, with the token's expiry. */
  readonly audiences: Map<string, number>;
}

type AmqpFailure = { condition: string; description: string };

export class EventHubEndpoint {
  /** Counters since start: messages appended (notifications, telemetry, produced) and deliveries sent. */
  readonly stats = { published: 0, delivered: 0 };

  private readonly container: Container;
  private readonly partitions: PartitionLog[];
  private readonly consumerGroups = new Map<string, string>();
  private readonly routes: ReadonlySet<RouteSource>;
  private readonly verifyTokens: boolean;
  private readonly readersBySender = new Map<Sender, PartitionReader>();
  private readonly readersByPartition = new Map<PartitionLog, Set<PartitionReader>>();
  private readonly pendingPartitions = new Set<PartitionLog>();
  private readonly auth = new WeakMap<Connection, ConnectionAuth>();
  private readonly sockets = new Set<Socket>();
  private readonly openConnections = new Set<Connection>();
  private readonly createdAt = new Date();
  private readonly correlationPrefix = randomBytes(3).toString('hex');
  private correlationCounter = 0;
  private roundRobinCursor = 0;
  private pumpScheduled: NodeJS.Immediate | undefined;
  private server: Server | undefined;
  private listeningPort = 0;
  private tlsServer: Server | undefined;
  private listeningTlsPort = 0;

  constructor(private readonly options: EventHubEndpointOptions) {
    if (!Number.isInteger(options.partitionCount) || options.partitionCount < 1)
      throw new RangeError('partitionCount must be a positive integer');
    const retention = options.retentionPerPartition ?? DEFAULT_RETENTION;
    if (!Number.isInteger(retention) || retention < 1) throw new RangeError('retentionPerPartition must be a positive integer');
    this.partitions = Array.from({ length: options.partitionCount }, (_unused, index) => new PartitionLog(String(index), retention));
    for (const log of this.partitions) log.onAppend(() => this.schedulePump(log));
    this.addConsumerGroup(DEFAULT_CONSUMER_GROUP);
    for (const name of options.consumerGroups) this.addConsumerGroup(name);
    this.routes = new Set(options.routes);
    this.verifyTokens = options.verifyTokens ?? true;
    this.container = create_container({ id: `twinguard-${options.hubName}` });
    this.wireContainer();
  }

  /** The bound port; only meaningful after {@link start} resolves. */
  get port(): number {
    return this.listeningPort;
  }

  /** The AMQP-over-TLS port; 0 without the `tls` option or before {@link start} resolves. */
  get tlsPort(): number {
    return this.listeningTlsPort;
  }

  /** Starts listening. Rejects if the port is taken; calling it twice is an error. */
  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error('EventHubEndpoint already started');
    const host = this.options.host ?? '127.0.0.1';
    this.server = this.container.listen({ host, port: this.options.port ?? 0 });
    this.listeningPort = await this.listening(this.server);
    if (this.options.tls) {
      const { key, cert, port = 0 } = this.options.tls;
      this.tlsServer = this.container.listen({ transport: 'tls', key, cert, host, port });
      this.listeningTlsPort = await this.listening(this.tlsServer);
    }
  }

  private async listening(server: Server): Promise<number> {
    // 'connection' is the TCP socket under TLS too: destroying it ends the TLS session.
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return (server.address() as AddressInfo).port;
  }

  /** Closes every connection and the listener; resolves once nothing of the endpoint keeps Node alive. */
  async stop(): Promise<void> {
    const servers = [this.server, this.tlsServer].filter((server): server is Server => server !== undefined);
    this.server = undefined;
    this.tlsServer = undefined;
    if (this.pumpScheduled !== undefined) clearImmediate(this.pumpScheduled);
    this.pumpScheduled = undefined;
    this.destroySockets();
    this.readersBySender.clear();
    this.readersByPartition.clear();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  /** Connection string for `@azure/event-hubs` clients (plain AMQP on the emulator's port). */
  connectionString(): string {
    const { host = '127.0.0.1', sharedAccessKeyName, sharedAccessKey, eventHubName } = this.options;
    return `Endpoint=sb://${host}:${this.port}/;SharedAccessKeyName=${sharedAccessKeyName};SharedAccessKey=${sharedAccessKey};EntityPath=${eventHubName};UseDevelopmentEmulator=true`;
  }

  /**
   * The connection string as the portal shows it for the built-in endpoint (`Endpoint=sb://{namespaceHost}/;…;EntityPath=…`,
   * AMQP over TLS on 5671); it reaches the `tls` listener through emulator/connect.ts.
   */
  portalConnectionString(namespaceHost: string): string {
    const { sharedAccessKeyName, sharedAccessKey, eventHubName } = this.options;
    return `Endpoint=sb://${namespaceHost}/;SharedAccessKeyName=${sharedAccessKeyName};SharedAccessKey=${sharedAccessKey};EntityPath=${eventHubName}`;
  }

  /**
   * Emits the notification IoT Hub sends for a registry or twin change, if its source is routed.
   * All changes of one device (and its modules) land on one partition in call order.
   */
  publishChange(change: HubChange): void {
    if (!this.routes.has(routeSourceOf(change))) return;
    const correlationId = `${this.correlationPrefix}${(this.correlationCounter++).toString(16).padStart(5, '0')}`;
    this.appendHubMessage(buildNotification(this.options.hubName, change, correlationId, new Date()));
  }

  /**
   * Emits a device-to-cloud telemetry message, if `DeviceMessages` is routed. Bodies may be any bytes:
   * strings go as UTF-8, Buffers untouched, other values as JSON.
   */
  injectTelemetry(deviceId: string, body: string | Buffer | object, options: TelemetryOptions = {}): void {
    if (!this.routes.has('DeviceMessages')) return;
    this.appendHubMessage(buildTelemetry(deviceId, body, options, new Date()));
  }

  /** Partition id of a device: the Event Hubs partition-key hash of its id, as the SDK computes it. */
  partitionFor(deviceId: string): string {
    return String(partitionIndexForKey(deviceId, this.partitions.length));
  }

  /** Adds a consumer group (names are case-insensitive; adding an existing one is a no-op). */
  addConsumerGroup(name: string): void {
    if (name.length === 0 || name.includes('/')) throw new RangeError(`invalid consumer group name '${name}'`);
    this.consumerGroups.set(name.toLowerCase(), name);
  }

  /** Fault injection: abruptly closes every AMQP connection; the listener stays up for reconnects. */
  dropConnections(): void {
    this.destroySockets();
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const connection of this.openConnections) stopHeartbeats(connection);
    this.openConnections.clear();
  }

  private appendHubMessage(hubMessage: HubMessage): void {
    const log = this.partitionLog(this.partitionFor(hubMessage.deviceId));
    if (log === undefined) return;
    log.append(({ sequenceNumber, offset, enqueuedTime }) =>
      encodeHubMessage(hubMessage, { sequenceNumber, offset: String(offset), enqueuedTime }),
    );
    this.stats.published += 1;
  }

  private appendProducedEvent(event: ProducedEvent, log: PartitionLog): void {
    log.append(({ sequenceNumber, offset, enqueuedTime }) =>
      encodeProducedEvent(event, {
        sequenceNumber,
        offset: String(offset),
        enqueuedTime,
        ...(event.partitionKey === undefined ? {} : { partitionKey: event.partitionKey }),
      }),
    );
    this.stats.published += 1;
  }

  private partitionLog(partitionId: string): PartitionLog | undefined {
    return /^\d+$/.test(partitionId) ? this.partitions[Number(partitionId)] : undefined;
  }

  private wireContainer(): void {
    const container = this.container;
    container.on('sender_open', (context: EventContext) => this.onPeerReceiverAttached(context));
    container.on('receiver_open', (context: EventContext) => this.onPeerSenderAttached(context));
    container.on('message', (context: EventContext) => this.onMessage(context));
    container.on('sendable', (context: EventContext) => {
      const reader = context.sender === undefined ? undefined : this.readersBySender.get(context.sender);
      if (reader !== undefined) this.pump(reader);
    });
    const forgetSender = (context: EventContext): void => {
      if (context.sender !== undefined) this.forgetReader(context.sender);
    };
    container.on('sender_close', forgetSender);
    container.on('sender_error', forgetSender);
    container.on('connection_open', (context: EventContext) => {
      this.auth.set(context.connection, { audiences: new Map() });
      this.openConnections.add(context.connection);
    });
    container.on('disconnected', (context: EventContext) => {
      this.forgetConnection(context.connection);
      this.openConnections.delete(context.connection);
      // rhea can arm its heartbeat timers once more while a destroyed socket is still closing.
      setImmediate(() => stopHeartbeats(context.connection));
    });
    container.on('connection_close', (context: EventContext) => this.forgetConnection(context.connection));
    // Link and connection errors are the clients' to report; without these listeners rhea would throw.
    container.on('error', () => undefined);
    container.on('connection_error', () => undefined);
    container.on('receiver_error', () => undefined);
    container.on('session_error', () => undefined);
  }

  private forgetConnection(connection: Connection): void {
    for (const reader of [...this.readersBySender.values()]) {
      if (reader.connection === connection) this.forgetReader(reader.sender);
    }
  }

  private forgetReader(sender: Sender): void {
    const reader = this.readersBySender.get(sender);
    if (reader === undefined) return;
    this.readersBySender.delete(sender);
    this.readersByPartition.get(reader.log)?.delete(reader);
  }

  /** The peer attached a receiving link: a `$cbs`/`$management` reply link or a partition consumer. */
  private onPeerReceiverAttached(context: EventContext): void {
    const sender = context.sender;
    if (sender === undefined) return;
    const { sourceAddress, selector } = remoteTerminusOf(sender);
    completeLocalAttach(sender);
    if (sourceAddress === '$cbs' || sourceAddress === '$management') return;
    const unserved = this.unservedNode(sourceAddress ?? '');
    if (unserved !== undefined) return sender.close(unserved);
    const resolved = this.resolveConsumerAddress(sourceAddress ?? '');
    const remoteAttach = (sender as unknown as { remote?: { attach?: { desired_capabilities?: unknown; properties?: unknown } } }).remote
      ?.attach;
    if ('condition' in resolved) return sender.close(resolved);
    const unauthorized = this.checkAuthorized(context.connection, sourceAddress ?? '');
    if (unauthorized !== undefined) return sender.close(unauthorized);
    const start = parseSelector(selector);
    if (start === undefined)
      return sender.close({ condition: 'com.microsoft:argument-error', description: `unsupported filter: ${selector ?? ''}` });
    const epoch = epochOf(remoteAttach?.properties);
    const owners = [...(this.readersByPartition.get(resolved.log) ?? [])].filter((other) => other.consumerGroup === resolved.consumerGroup);
    const admission = admitReceiver(owners, epoch, `partition '${resolved.log.partitionId}' of consumer group '${resolved.consumerGroup}'`);
    if (!admission.admitted) return sender.close({ condition: admission.condition, description: admission.description });
    for (const displaced of admission.displaced) {
      this.forgetReader(displaced.sender);
      displaced.sender.close(admission.displacement);
    }
    const reader: PartitionReader = {
      sender,
      log: resolved.log,
      connection: context.connection,
      nextSequenceNumber: resolved.log.firstSequenceNumberFor(start),
      handedToRhea: 0,
      runtimeMetrics: wantsRuntimeMetrics(remoteAttach?.desired_capabilities),
      consumerGroup: resolved.consumerGroup,
      epoch,
    };
    this.readersBySender.set(sender, reader);
    let readers = this.readersByPartition.get(resolved.log);
    if (readers === undefined) this.readersByPartition.set(resolved.log, (readers = new Set()));
    readers.add(reader);
  }

  /** The peer attached a sending link: `$cbs`/`$management` requests or a producer. */
  private onPeerSenderAttached(context: EventContext): void {
    const receiver = context.receiver;
    if (receiver === undefined) return;
    const { targetAddress = '' } = remoteTerminusOf(receiver);
    if (targetAddress === '$cbs' || targetAddress === '$management') return completeLocalAttach(receiver);
    completeLocalAttach(receiver, MAX_MESSAGE_SIZE);
    const unserved = this.unservedNode(targetAddress);
    if (unserved !== undefined) return receiver.close(unserved);
    const resolved = this.resolveProducerAddress(targetAddress);
    if (resolved !== undefined && 'condition' in resolved) return receiver.close(resolved);
    const unauthorized = this.checkAuthorized(context.connection, targetAddress);
    if (unauthorized !== undefined) return receiver.close(unauthorized);
    if (this.options.acceptProducedEvents !== true) {
      receiver.close({
        condition: 'amqp:unauthorized-access',
        description:
          `Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${targetAddress}'. ` +
          "IoT Hub's built-in endpoint is read-only (the emulator's acceptProducedEvents option allows it in tests).",
      });
    }
  }

  private onMessage(context: EventContext): void {
    const receiver: Receiver | undefined = context.receiver;
    if (receiver === undefined) return;
    const { targetAddress = '' } = remoteTerminusOf(receiver);
    if (targetAddress === '$cbs') return this.onPutToken(context);
    if (targetAddress === '$management') return this.onManagementRequest(context);
    const resolved = this.resolveProducerAddress(targetAddress);
    if ((resolved !== undefined && 'condition' in resolved) || this.options.acceptProducedEvents !== true) return;
    const format = context.delivery?.format;
    for (const event of decodeProducedTransfer(context.message, format)) {
      const log = resolved?.log ?? this.logForProducedEvent(event);
      if (log !== undefined) this.appendProducedEvent(event, log);
    }
  }

  private logForProducedEvent(event: ProducedEvent): PartitionLog | undefined {
    if (event.partitionKey !== undefined) return this.partitionLog(this.partitionFor(event.partitionKey));
    const log = this.partitions[this.roundRobinCursor % this.partitions.length];
    this.roundRobinCursor += 1;
    return log;
  }

  private onPutToken(context: EventContext): void {
    const request = readServiceRequest(context.message);
    const audience = request.applicationProperties['name'];
    const token = request.body;
    let response;
    if (request.applicationProperties['operation'] !== 'put-token' || typeof audience !== 'string' || typeof token !== 'string') {
      response = serviceResponse(request, 400, 'Bad put-token request');
    } else {
      const verdict = this.verifyTokens ? verifySasToken(token, this.options.sharedAccessKeyName, this.options.sharedAccessKey) : undefined;
      if (verdict !== undefined && !verdict.ok) {
        response = serviceResponse(request, 401, `InvalidSignature: ${verdict.reason}`);
      } else {
        const expiresAtMs = verdict?.expiresAtMs ?? Number.POSITIVE_INFINITY;
        this.auth.get(context.connection)?.audiences.set(entityPathOf(verdict?.audience ?? audience), expiresAtMs);
        response = serviceResponse(request, 202, 'Accepted');
      }
    }
    this.reply(context.connection, request, response);
  }

  private onManagementRequest(context: EventContext): void {
    const request = readServiceRequest(context.message);
    const properties = request.applicationProperties;
    const token = properties['security_token'];
    if (
      this.verifyTokens &&
      (typeof token !== 'string' || !verifySasToken(token, this.options.sharedAccessKeyName, this.options.sharedAccessKey).ok)
    ) {
      return this.reply(
        context.connection,
        request,
        serviceResponse(request, 401, 'Unauthorized: invalid security_token', { errorCondition: 'amqp:unauthorized-access' }),
      );
    }
    const name = properties['name'];
    if (properties['operation'] !== 'READ') {
      return this.reply(
        context.connection,
        request,
        serviceResponse(
          request,
          501,
          `The $management operation '${String(properties['operation'])}' is not supported by the IoT Hub emulator (only READ of com.microsoft:eventhub and com.microsoft:partition).`,
          { errorCondition: 'amqp:not-implemented' },
        ),
      );
    }
    if (typeof name !== 'string') {
      return this.reply(
        context.connection,
        request,
        serviceResponse(request, 400, 'The $management request needs a name.', { errorCondition: 'com.microsoft:argument-error' }),
      );
    }
    if (name.toLowerCase() !== this.options.eventHubName.toLowerCase()) {
      return this.reply(
        context.connection,
        request,
        serviceResponse(request, 404, `The messaging entity '${name}' could not be found.`, { errorCondition: 'amqp:not-found' }),
      );
    }
    if (properties['type'] === 'com.microsoft:eventhub') {
      const body = {
        name: this.options.eventHubName,
        type: 'com.microsoft:eventhub',
        created_at: this.createdAt,
        partition_count: this.partitions.length,
        partition_ids: this.partitions.map((log) => log.partitionId),
      };
      return this.reply(context.connection, request, serviceResponse(request, 200, 'OK', { body }));
    }
    if (properties['type'] !== 'com.microsoft:partition') {
      return this.reply(
        context.connection,
        request,
        serviceResponse(request, 501, `The $management type '${String(properties['type'])}' is not supported by the IoT Hub emulator.`, {
          errorCondition: 'amqp:not-implemented',
        }),
      );
    }
    const partitionId = properties['partition'];
    const log = typeof partitionId === 'string' ? this.partitionLog(partitionId) : undefined;
    if (log === undefined) {
      const failure = this.invalidPartition(partitionId);
      return this.reply(
        context.connection,
        request,
        serviceResponse(request, 400, failure.description, { errorCondition: failure.condition }),
      );
    }
    const last = log.lastEvent;
    const body = {
      name: this.options.eventHubName,
      type: 'com.microsoft:partition',
      partition: log.partitionId,
      begin_sequence_number: amqpLong(log.beginSequenceNumber),
      last_enqueued_sequence_number: amqpLong(log.lastSequenceNumber),
      last_enqueued_offset: last === undefined ? '-1' : String(last.offset),
      last_enqueued_time_utc: new Date(last?.enqueuedTimeMs ?? 0),
      is_partition_empty: log.isEmpty,
    };
    this.reply(context.connection, request, serviceResponse(request, 200, 'OK', { body }));
  }

  /** Replies go to the link the client named in `reply_to` (its receiver's link name). */
  private reply(connection: Connection, request: ServiceRequest, response: ReturnType<typeof serviceResponse>): void {
    const replyLink = connection.find_sender(
      (candidate: Sender) => candidate.name === request.replyTo || remoteTerminusOf(candidate).targetAddress === request.replyTo,
    );
    replyLink?.send(response);
  }

  private resolveConsumerAddress(address: string): { log: PartitionLog; consumerGroup: string } | AmqpFailure {
    const match = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    const [, hub = '', consumerGroup = '', partitionId = ''] = match ?? [];
    const notFound = { condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` };
    if (match === null || hub.toLowerCase() !== this.options.eventHubName.toLowerCase()) return notFound;
    if (!this.consumerGroups.has(decodeURIComponent(consumerGroup).toLowerCase())) {
      return {
        condition: 'amqp:not-found',
        description: `The messaging entity '${this.options.eventHubName}/ConsumerGroups/${consumerGroup}' could not be found.`,
      };
    }
    const log = this.partitionLog(partitionId);
    return log === undefined ? this.invalidPartition(partitionId) : { log, consumerGroup: decodeURIComponent(consumerGroup).toLowerCase() };
  }

  /**
   * Event Hubs answers a partition id outside 0…count-1 with `com.microsoft:argument-out-of-range` (the SDK's
   * ArgumentOutOfRangeError, core-amqp errors.js ConditionErrorNameMapper), worded as the service words it.
   */
  private invalidPartition(partitionId: unknown): AmqpFailure {
    return {
      condition: 'com.microsoft:argument-out-of-range',
      description:
        `The specified partition '${String(partitionId)}' is invalid for an EventHub partition sender or receiver. ` +
        `It should be between 0 and ${this.partitions.length - 1}.`,
    };
  }

  /**
   * Nodes of IoT Hub's own AMQP surface (`$`-prefixed nodes other than `$cbs`/`$management`, `/messages/…`) are not
   * served by the Event Hub-compatible endpoint here: they answer `amqp:not-implemented` naming the node instead of a
   * bare not-found, so a client can tell "not emulated" from a typo.
   */
  private unservedNode(address: string): AmqpFailure | undefined {
    const path = address.replace(/^amqps?:\/\/[^/]+/i, '').replace(/^\//, '');
    if (!path.startsWith('$') && !/^(?:devices\/[^/]+\/)?messages\//i.test(path)) return undefined;
    return {
      condition: 'amqp:not-implemented',
      description:
        `The AMQP node '${address}' is not supported by the IoT Hub emulator's Event Hub-compatible endpoint ` +
        "(it serves $cbs, $management and the event hub's consumer-group partitions; cloud-to-device messages, feedback and " +
        'file-upload notifications over AMQP are not emulated).',
    };
  }

  /** `hub` (partition chosen per event) or `hub/Partitions/<id>`; undefined means "no fixed partition". */
  private resolveProducerAddress(address: string): { log: PartitionLog } | AmqpFailure | undefined {
    const match = /^([^/]+)(?:\/Partitions\/([^/]+))?$/i.exec(address);
    const [, hub = '', partitionId] = match ?? [];
    const notFound = { condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found.` };
    if (match === null || hub.toLowerCase() !== this.options.eventHubName.toLowerCase()) return notFound;
    if (partitionId === undefined) return undefined;
    const log = this.partitionLog(partitionId);
    return log === undefined ? this.invalidPartition(partitionId) : { log };
  }

  /** An entity link needs a live token put on this connection for the entity or one of its parents. */
  private checkAuthorized(connection: Connection, address: string): AmqpFailure | undefined {
    if (!this.verifyTokens) return undefined;
    const path = address.toLowerCase();
    const now = Date.now();
    for (const [audiencePath, expiresAtMs] of this.auth.get(connection)?.audiences ?? []) {
      if (expiresAtMs > now && (path === audiencePath || path.startsWith(`${audiencePath}/`))) return undefined;
    }
    return { condition: 'amqp:unauthorized-access', description: `Unauthorized access to '${address}': no valid token was put on $cbs.` };
  }

  private schedulePump(log: PartitionLog): void {
    if (!this.readersByPartition.get(log)?.size) return;
    this.pendingPartitions.add(log);
    // Appends arrive in bursts (a registry batch, a producer batch); deliver them together once.
    this.pumpScheduled ??= setImmediate(() => {
      this.pumpScheduled = undefined;
      const logs = [...this.pendingPartitions];
      this.pendingPartitions.clear();
      for (const pending of logs) {
        for (const reader of this.readersByPartition.get(pending) ?? []) this.pump(reader);
      }
    });
  }

  /** Sends as many stored events as the link's credit and the session buffer allow. */
  private pump(reader: PartitionReader): void {
    if (!this.readersBySender.has(reader.sender) || !reader.sender.is_open()) return;
    const { credit, bufferSpace } = deliveryBudget(reader.sender, reader.handedToRhea);
    let budget = Math.min(credit, bufferSpace);
    const { log } = reader;
    if (reader.nextSequenceNumber < log.beginSequenceNumber) reader.nextSequenceNumber = log.beginSequenceNumber;
    if (budget > 0 && log.eventAt(reader.nextSequenceNumber) !== undefined) corkUntilNextTick(reader.connection);
    while (budget > 0) {
      const event = log.eventAt(reader.nextSequenceNumber);
      if (event === undefined) return;
      const last = reader.runtimeMetrics ? log.lastEvent : undefined;
      reader.sender.send(last === undefined ? event.encoded : withRuntimeMetrics(event.encoded, last, Date.now()), undefined, 0);
      reader.nextSequenceNumber += 1;
      reader.handedToRhea += 1;
      this.stats.delivered += 1;
      budget -= 1;
    }
    // Out of budget with events left: if the session buffer (not credit) was the limit, retry once rhea
    // has flushed; credit arriving later triggers 'sendable' by itself.
    if (credit > bufferSpace && log.eventAt(reader.nextSequenceNumber) !== undefined) this.schedulePump(log);
  }
}

/** `sb://host:port/hub/ConsumerGroups/…` → `hub/consumergroups/…` (lower case), for prefix checks. */
function entityPathOf(audience: string): string {
  const match = /^[a-z]+:\/\/[^/]+\/(.*)$/i.exec(audience);
  return (match?.[1] ?? audience).replace(/\/$/, '').toLowerCase();
}

/**
 * In-process Azurite (Table, Blob, Queue) for `npm start` and the tests: loopback only, ports chosen
 * by the OS unless given, state in memory or in a folder. It uses Azurite's internal positional
 * constructors (the package entry point is the VS Code extension), which is why azurite is pinned
 * exactly in package.json: a version bump must re-check these argument lists.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** The public, well-known Azurite development account (not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}
type ServerConstructor = new (configuration: unknown) => AzuriteServer;
type ConfigurationConstructor = new (...args: unknown[]) => unknown;

function load<T>(modulePath: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(modulePath) as { default: T }).default;
}

export interface EmbeddedAzuriteOptions {
  blob?: boolean;
  queue?: boolean;
  /** Folder for on-disk state; in memory when absent. */
  location?: string;
  host?: string;
  /** Fixed ports (0 = OS picks). */
  ports?: { table?: number; blob?: number; queue?: number };
}

export interface EmbeddedAzurite {
  tableEndpoint: string;
  blobEndpoint?: string;
  queueEndpoint?: string;
  /** Shared-key connection string for the dev account, naming every started endpoint. */
  connectionString: string;
  stop(): Promise<void>;
}

const KEEP_ALIVE = undefined;
const NO_LOG = false;
const LOOSE = false;
const SKIP_API_VERSION_CHECK = true;
const NO_TLS = '';
const OAUTH = undefined;
const PRODUCT_STYLE_URL = false;

function createTableServer(host: string, port: number, location: string | undefined): AzuriteServer {
  const TableServer = load<ServerConstructor>('azurite/dist/src/table/TableServer');
  const TableConfiguration = load<ConfigurationConstructor>('azurite/dist/src/table/TableConfiguration');
  const dbPath = path.join(location ?? '.', '__azurite_db_table__.json');
  // host, port, keepAlive, dbPath, debug, accessLog, accessLogStream, debugPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory
  const config = new TableConfiguration(
    host,
    port,
    KEEP_ALIVE,
    dbPath,
    NO_LOG,
    NO_LOG,
    undefined,
    undefined,
    LOOSE,
    SKIP_API_VERSION_CHECK,
    NO_TLS,
    NO_TLS,
    NO_TLS,
    OAUTH,
    PRODUCT_STYLE_URL,
    location === undefined,
  );
  return new TableServer(config);
}

function createBlobOrQueueServer(kind: 'blob' | 'queue', host: string, port: number, location: string | undefined): AzuriteServer {
  const prefix = kind === 'blob' ? 'azurite/dist/src/blob/Blob' : 'azurite/dist/src/queue/Queue';
  const Server = load<ServerConstructor>(`${prefix}Server`);
  const Configuration = load<ConfigurationConstructor>(`${prefix}Configuration`);
  const base = location ?? '.';
  const metaDb = path.join(base, `__azurite_db_${kind}__.json`);
  const extentDb = path.join(base, `__azurite_db_${kind}_extent__.json`);
  const persistence = [{ locationId: 'Default', locationPath: path.join(base, `__${kind}storage__`), maxConcurrency: 1 }];
  // host, port, keepAlive, metaDB, extentDB, persistArr, accessLog, accessLogStream, debug, debugPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory
  const config = new Configuration(
    host,
    port,
    KEEP_ALIVE,
    metaDb,
    extentDb,
    persistence,
    NO_LOG,
    undefined,
    NO_LOG,
    undefined,
    LOOSE,
    SKIP_API_VERSION_CHECK,
    NO_TLS,
    NO_TLS,
    NO_TLS,
    OAUTH,
    PRODUCT_STYLE_URL,
    location === undefined,
  );
  return new Server(config);
}

/**
 * Starts Azurite servers (tens of ms once modules are loaded). Always call `stop()`: the servers
 * hold listening sockets, and with a location, closing flushes their databases to disk.
 */
export async function startEmbeddedAzurite(options: EmbeddedAzuriteOptions = {}): Promise<EmbeddedAzurite> {
  const host = options.host ?? '127.0.0.1';
  if (options.location) mkdirSync(options.location, { recursive: true });
  const table = createTableServer(host, options.ports?.table ?? 0, options.location);
  const blob = options.blob ? createBlobOrQueueServer('blob', host, options.ports?.blob ?? 0, options.location) : undefined;
  const queue = options.queue ? createBlobOrQueueServer('queue', host, options.ports?.queue ?? 0, options.location) : undefined;
  const servers = [table, blob, queue].filter((server): server is AzuriteServer => server !== undefined);

  const started = await Promise.allSettled(servers.map((server) => server.start()));
  const stop = async (): Promise<void> => {
    await Promise.allSettled(servers.map((server) => server.close()));
  };
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }

  const endpoint = (server: AzuriteServer): string => `${server.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`;
  const tableEndpoint = endpoint(table);
  const blobEndpoint = blob ? endpoint(blob) : undefined;
  const queueEndpoint = queue ? endpoint(queue) : undefined;
  const parts = [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT_NAME}`,
    `AccountKey=${AZURITE_ACCOUNT_KEY}`,
    `TableEndpoint=${tableEndpoint}`,
  ];
  if (blobEndpoint) parts.push(`BlobEndpoint=${blobEndpoint}`);
  if (queueEndpoint) parts.push(`QueueEndpoint=${queueEndpoint}`);
  return { tableEndpoint, blobEndpoint, queueEndpoint, connectionString: `${parts.join(';')};`, stop };
}

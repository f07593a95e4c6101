/**
 * In-process Azurite (Table, optionally Blob and Queue) for integration tests: in-memory, port 0,
 * loopback only. Uses Azurite's internal positional constructors, which is why azurite is pinned
 * exactly in package.json; a version bump must re-check these argument lists.
 */
import * as path from 'node:path';

/** The public, well-known Azurite development account key (not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}
type ServerConstructor = new (configuration: unknown) => AzuriteServer;
type ConfigurationConstructor = new (...args: unknown[]) => unknown;
interface DefaultExport<T> {
  default: T;
}

function load<T>(modulePath: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(modulePath) as DefaultExport<T>).default;
}

export interface AzuriteInstance {
  tableEndpoint: string;
  blobEndpoint?: string;
  queueEndpoint?: string;
  /** Shared-key connection string for the dev account, naming every started endpoint. */
  connectionString: string;
  stop(): Promise<void>;
}

// Never written with in-memory persistence, but the constructors want a path.
const UNUSED_DB_PATH = path.join('.twinguard-data', 'azurite-unused.json');
const HOST = '127.0.0.1';
const PORT = 0;
const KEEP_ALIVE = undefined;
const NO_LOG = false;
const LOOSE = false;
const SKIP_API_VERSION_CHECK = true;
const NO_TLS = '';
const OAUTH = undefined;
const PRODUCT_STYLE_URL = false;
const IN_MEMORY = true;

function createTableServer(): AzuriteServer {
  const TableServer = load<ServerConstructor>('azurite/dist/src/table/TableServer');
  const TableConfiguration = load<ConfigurationConstructor>('azurite/dist/src/table/TableConfiguration');
  // host, port, keepAlive, dbPath, debug, accessLog, accessLogStream, debugPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory
  const config = new TableConfiguration(HOST, PORT, KEEP_ALIVE, UNUSED_DB_PATH, NO_LOG, NO_LOG, undefined, undefined, LOOSE, SKIP_API_VERSION_CHECK, NO_TLS, NO_TLS, NO_TLS, OAUTH, PRODUCT_STYLE_URL, IN_MEMORY);
  return new TableServer(config);
}

function createBlobOrQueueServer(kind: 'blob' | 'queue'): AzuriteServer {
  const prefix = kind === 'blob' ? 'azurite/dist/src/blob/Blob' : 'azurite/dist/src/queue/Queue';
  const Server = load<ServerConstructor>(`${prefix}Server`);
  const Configuration = load<ConfigurationConstructor>(`${prefix}Configuration`);
  // host, port, keepAlive, metaDB, extentDB, persistArr, accessLog, accessLogStream, debug, debugPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory
  const config = new Configuration(HOST, PORT, KEEP_ALIVE, UNUSED_DB_PATH, UNUSED_DB_PATH, undefined, NO_LOG, undefined, NO_LOG, undefined, LOOSE, SKIP_API_VERSION_CHECK, NO_TLS, NO_TLS, NO_TLS, OAUTH, PRODUCT_STYLE_URL, IN_MEMORY);
  return new Server(config);
}

/**
 * Starts in-memory Azurite servers on ephemeral loopback ports (tens of ms once modules are loaded).
 * Always call `stop()` (e.g. in afterAll): the servers hold listening sockets.
 */
export async function startAzurite(options: { blob?: boolean; queue?: boolean } = {}): Promise<AzuriteInstance> {
  const table = createTableServer();
  const blob = options.blob ? createBlobOrQueueServer('blob') : undefined;
  const queue = options.queue ? createBlobOrQueueServer('queue') : undefined;
  const servers = [table, blob, queue].filter((server): server is AzuriteServer => server !== undefined);

  const started = await Promise.allSettled(servers.map((server) => server.start()));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  const stop = async (): Promise<void> => {
    await Promise.allSettled(servers.map((server) => server.close()));
  };
  if (failed) {
    await stop();
    throw failed.reason;
  }

  const endpoint = (server: AzuriteServer): string => `${server.getHttpServerAddress()}/${AZURITE_ACCOUNT_NAME}`;
  const tableEndpoint = endpoint(table);
  const blobEndpoint = blob ? endpoint(blob) : undefined;
  const queueEndpoint = queue ? endpoint(queue) : undefined;
  const parts = [`DefaultEndpointsProtocol=http`, `AccountName=${AZURITE_ACCOUNT_NAME}`, `AccountKey=${AZURITE_ACCOUNT_KEY}`, `TableEndpoint=${tableEndpoint}`];
  if (blobEndpoint) parts.push(`BlobEndpoint=${blobEndpoint}`);
  if (queueEndpoint) parts.push(`QueueEndpoint=${queueEndpoint}`);

  return { tableEndpoint, blobEndpoint, queueEndpoint, connectionString: `${parts.join(';')};`, stop };
}

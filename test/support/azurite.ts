/** In-process Azurite for integration tests: the same embedding `npm start` uses, in memory, on OS-chosen ports. */
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';

export { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../../host/embedded-azurite';
export type AzuriteInstance = EmbeddedAzurite;

/** Always call `stop()` (e.g. in afterAll): the servers hold listening sockets. */
export function startAzurite(options: { blob?: boolean; queue?: boolean } = {}): Promise<AzuriteInstance> {
  return startEmbeddedAzurite(options);
}

/**
 * The in-memory adapters do their work synchronously but keep the ports' async contract: `settle` runs
 * `work` at once and hands back its outcome as a promise (a value resolves it, a throw rejects it),
 * exactly as the `async` method it replaces did, so callers never see a synchronous throw.
 */
export function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work());
  });
}

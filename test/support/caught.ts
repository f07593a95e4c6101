/** Runs `action` and returns what it threw (fails the test when it does not throw). */
export async function caught(
  action: () => Promise<unknown>,
): Promise<Error & { response?: { statusCode?: number; headers: Record<string, string | string[] | undefined> }; responseBody?: string }> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected the call to throw');
}

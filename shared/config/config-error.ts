/**
 * Thrown by loadConfig with every problem found; the message lists them all. Problems name settings
 * and never quote a secret setting's value (messages from other validators pass through redactSecrets).
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((problem) => `- ${problem}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

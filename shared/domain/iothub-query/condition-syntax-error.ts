/**
 * The error of the IoT Hub query language's lexer and WHERE grammar (see twin-condition.ts for the subset).
 * parse-query.ts turns it into a QuerySyntaxError for whole queries.
 */

/** Thrown for anything the subset does not parse; the message names the position (0-based offset). */
export class ConditionSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

/**
 * A cursor over the tokens of query-lexer.ts with the grammar every clause shares: punctuation, keywords
 * and property paths.
 */
import { ConditionSyntaxError } from './condition-syntax-error';
import type { Token } from './query-lexer';

/** A cursor over tokens with the shared path grammar, used by the WHERE and the SELECT/FROM parsers. */
export class TokenCursor {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(ahead = 0): Token {
    const token = this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
    if (!token) throw new ConditionSyntaxError('Empty expression');
    return token;
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  isKeyword(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'identifier' && token.text.toUpperCase() === word;
  }

  isPunct(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'punct' && token.text === text;
  }

  expectPunct(text: string): Token {
    const token = this.next();
    if (token.kind !== 'punct' || token.text !== text) throw unexpectedToken(token, `'${text}'`);
    return token;
  }

  /** Parses `segment(.segment)*` where a segment is an identifier or a `[[name]]`. */
  parsePath(): string[] {
    const first = this.next();
    if (first.kind !== 'identifier' && first.kind !== 'bracketName') throw unexpectedToken(first, 'a property path');
    const segments = [first.text];
    while (this.isPunct('.')) {
      this.next();
      const segment = this.next();
      if (segment.kind !== 'identifier' && segment.kind !== 'bracketName') throw unexpectedToken(segment, "a property name after '.'");
      segments.push(segment.text);
    }
    return segments;
  }
}

function describeToken(token: Token): string {
  if (token.kind === 'end') return 'end of expression';
  if (token.kind === 'string') return `string '${token.text}'`;
  return `'${token.text}'`;
}

/** The error for `token` where the grammar expected `expected`. */
export function unexpectedToken(token: Token, expected: string): ConditionSyntaxError {
  return new ConditionSyntaxError(`Expected ${expected} but found ${describeToken(token)} at position ${token.position}`);
}

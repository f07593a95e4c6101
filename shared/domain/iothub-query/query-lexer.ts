/**
 * The lexer of the IoT Hub query language: the lexical rules shared by WHERE conditions (twin-condition.ts)
 * and whole queries (parse-query.ts).
 */
import { ConditionSyntaxError } from './condition-syntax-error';

export type TokenKind = 'identifier' | 'bracketName' | 'string' | 'number' | 'operator' | 'punct' | 'end';

export interface Token {
  kind: TokenKind;
  /** Raw text for identifiers/operators/punctuation; decoded value for strings and bracket names. */
  text: string;
  position: number;
  numberValue?: number;
}

const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$-]/;
const STRING_ESCAPES: Record<string, string> = { "'": "'", '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Splits condition or query text into tokens; `offset` is added to every reported position. */
export function tokenize(text: string, offset = 0): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const at = (index: number): string => text.charAt(index);
  while (i < text.length) {
    const ch = at(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === "'" || ch === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ConditionSyntaxError(`Unterminated string literal starting at position ${start + offset}`);
        const c = at(i);
        if (c === '\\') {
          const next = at(i + 1);
          if (next === 'u') {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConditionSyntaxError(`Invalid \\u escape at position ${i + offset}`);
            value += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          const escaped = STRING_ESCAPES[next];
          if (escaped === undefined) throw new ConditionSyntaxError(`Invalid escape sequence '\\${next}' at position ${i + offset}`);
          value += escaped;
          i += 2;
          continue;
        }
        if (c === ch) {
          i++;
          break;
        }
        value += c;
        i++;
      }
      tokens.push({ kind: 'string', text: value, position: start + offset });
      continue;
    }
    if (ch === '[' && at(i + 1) === '[') {
      const close = text.indexOf(']]', i + 2);
      if (close < 0) throw new ConditionSyntaxError(`Unterminated '[[' property name at position ${start + offset}`);
      const name = text.slice(i + 2, close);
      if (name.length === 0) throw new ConditionSyntaxError(`Empty '[[]]' property name at position ${start + offset}`);
      tokens.push({ kind: 'bracketName', text: name, position: start + offset });
      i = close + 2;
      continue;
    }
    const numberMatch = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (numberMatch && (ch !== '-' || /[\d.]/.test(at(i + 1)))) {
      const raw = numberMatch[0];
      tokens.push({ kind: 'number', text: raw, position: start + offset, numberValue: Number(raw) });
      i += raw.length;
      continue;
    }
    if (IDENTIFIER_START.test(ch)) {
      i++;
      while (i < text.length && IDENTIFIER_PART.test(at(i))) i++;
      tokens.push({ kind: 'identifier', text: text.slice(start, i), position: start + offset });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
      tokens.push({ kind: 'operator', text: two, position: start + offset });
      i += 2;
      continue;
    }
    if (ch === '=' || ch === '<' || ch === '>') {
      tokens.push({ kind: 'operator', text: ch, position: start + offset });
      i++;
      continue;
    }
    if ('().,[]*'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, position: start + offset });
      i++;
      continue;
    }
    throw new ConditionSyntaxError(`Unexpected character '${ch}' at position ${start + offset}`);
  }
  tokens.push({ kind: 'end', text: '', position: text.length + offset });
  return tokens;
}

/** GET /api/dead-letters?limit=&continuationToken=&preview=: dead letters paged in key order, payloads cut to a preview. */
import { InvalidContinuationTokenError } from '../errors';
import type { DeadLetterReader } from '../ports/dead-letter-store';
import { badRequest, type ApiResult } from './api-result';

export interface DeadLettersInput {
  limit?: string;
  continuationToken?: string;
  preview?: string;
}

export const DEFAULT_DEAD_LETTER_LIMIT = 50;
export const MAX_DEAD_LETTER_LIMIT = 200;
export const DEFAULT_PREVIEW_CHARS = 1000;
export const MAX_PREVIEW_CHARS = 32_000;

function integerIn(text: string | undefined, fallback: number, max: number): number | undefined {
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= max ? value : undefined;
}

export async function listDeadLetters(input: DeadLettersInput, deadLetters: DeadLetterReader): Promise<ApiResult> {
  const problems: string[] = [];
  const limit = integerIn(input.limit, DEFAULT_DEAD_LETTER_LIMIT, MAX_DEAD_LETTER_LIMIT);
  const previewChars = integerIn(input.preview, DEFAULT_PREVIEW_CHARS, MAX_PREVIEW_CHARS);
  if (limit === undefined) problems.push(`limit must be an integer from 1 to ${MAX_DEAD_LETTER_LIMIT}`);
  if (previewChars === undefined) problems.push(`preview must be an integer from 1 to ${MAX_PREVIEW_CHARS} (characters)`);
  if (limit === undefined || previewChars === undefined) return badRequest(problems.join('; '));
  try {
    const page = await deadLetters.list({ limit, previewChars, continuationToken: input.continuationToken || undefined });
    return { status: 200, body: { deadLetters: page.letters, continuationToken: page.continuationToken ?? null } };
  } catch (error) {
    if (error instanceof InvalidContinuationTokenError) return badRequest(error.message);
    throw error;
  }
}

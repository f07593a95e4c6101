import type { SweepMessage } from '../../ports/sweep-queue';

/**
 * Decodes what the queue trigger delivers: the parsed object, its JSON text, or the raw base64 text.
 * @throws Error for anything that is not a sweep message (the trigger's poison handling then takes it).
 */
export function decodeSweepMessage(input: unknown): SweepMessage {
  let value: unknown = input;
  if (typeof value === 'string') {
    const text = value.trim().startsWith('{') ? value : Buffer.from(value, 'base64').toString('utf8');
    value = JSON.parse(text) as unknown;
  }
  if (typeof value !== 'object' || value === null) throw new Error('sweep message must be a JSON object');
  const message = value as Record<string, unknown>;
  const sweepId = message['sweepId'];
  if (typeof sweepId !== 'string' || sweepId === '') throw new Error('sweep message needs a sweepId');
  switch (message['kind']) {
    case 'plan':
    case 'finalize':
      return { kind: message['kind'], sweepId };
    case 'shard': {
      const shard = message['shard'];
      if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0) throw new Error('shard message needs a shard number');
      return { kind: 'shard', sweepId, shard };
    }
    case 'importJob': {
      const jobId = message['jobId'];
      if (typeof jobId !== 'string') throw new Error('importJob message needs a jobId');
      return { kind: 'importJob', sweepId, jobId };
    }
    default:
      throw new Error(`unknown sweep message kind ${JSON.stringify(message['kind'])}`);
  }
}

/**
 * Paging tokens read totally (shared/domain/paging-token.ts), and the findings token of the table store: only what
 * the store and @azure/data-tables can have issued is accepted.
 */
import { decodeFindingsToken, encodeFindingsToken } from '../../shared/adapters/table-sweep-store';
import { decodePagingToken, encodePagingToken, MAX_PAGING_TOKEN_LENGTH } from '../../shared/domain/paging-token';
import { InvalidContinuationTokenError } from '../../shared/errors';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** A table token exactly as @azure/data-tables 13.x `encodeContinuationToken` builds it. */
const tableToken = (nextPartitionKey: string, nextRowKey?: string): string =>
  Buffer.from(JSON.stringify({ nextPartitionKey, ...(nextRowKey ? { nextRowKey } : {}) })).toString('base64');

describe('decodePagingToken', () => {
  it('round-trips what encodePagingToken writes', () => {
    const fields = { shard: 3, after: "dev-1\u0000module-missing é'" };
    expect(decodePagingToken(encodePagingToken(fields))).toEqual(fields);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['not base64', 'not a token!'],
    ['URL-safe alphabet', b64('{"a":"???>>>"}').replace(/\//g, '_').replace(/\+/g, '-')],
    ['missing padding', b64('{"a":1}').replace(/=+$/, '')],
    ['whitespace inside', ` ${b64('{"a":1}')}`],
    ['not JSON', b64('{"a":')],
    ['JSON array', b64('[1]')],
    ['JSON string', b64('"x"')],
    ['JSON null', b64('null')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')],
    ['too long', b64(JSON.stringify({ a: 'x'.repeat(MAX_PAGING_TOKEN_LENGTH) }))],
  ])('answers undefined for %s', (_name, token) => {
    expect(decodePagingToken(token)).toBeUndefined();
  });
});

describe('findings tokens of the table store', () => {
  const SHARDS = 16;

  it.each<[string, string, { shard: number; tableToken: string | undefined }]>([
    ['the start of a shard', encodeFindingsToken(0), { shard: 0, tableToken: undefined }],
    ['the last shard', encodeFindingsToken(SHARDS - 1), { shard: SHARDS - 1, tableToken: undefined }],
    [
      'a table token as Azurite issues it (raw keys)',
      encodeFindingsToken(4, tableToken('sw-20261123T020000Z-sched_004', "odd%23%3F'id|module-missing")),
      { shard: 4, tableToken: tableToken('sw-20261123T020000Z-sched_004', "odd%23%3F'id|module-missing") },
    ],
    [
      'a table token as Azure issues it (1!<length>!<base64> keys)',
      encodeFindingsToken(2, tableToken('1!40!c3ctMjAyNjExMjNUMDIwMDAwWi1zY2hlZF8wMDI-', '1!24!ZGV2LTF8bW9kdWxlLW1pc3Npbmc-')),
      { shard: 2, tableToken: tableToken('1!40!c3ctMjAyNjExMjNUMDIwMDAwWi1zY2hlZF8wMDI-', '1!24!ZGV2LTF8bW9kdWxlLW1pc3Npbmc-') },
    ],
    ['a table token without a row key', encodeFindingsToken(1, tableToken('p')), { shard: 1, tableToken: tableToken('p') }],
  ])('accepts %s', (_name, token, expected) => {
    expect(decodeFindingsToken(token, SHARDS)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['{"s":-10000}', b64('{"s":-10000}')],
    ['{"s":-1e7}', b64('{"s":-1e7}')],
    ['{"s":1.5}', b64('{"s":1.5}')],
    ['{"s":99999}', b64('{"s":99999}')],
    ['{"s":16} (the shard count)', b64('{"s":16}')],
    ['{"s":"0"}', b64('{"s":"0"}')],
    ['{"s":null}', b64('{"s":null}')],
    ['{} (no shard)', b64('{}')],
    ['{"s":0,"x":1} (unknown field)', b64('{"s":0,"x":1}')],
    ['{"s":0,"t":"junk"}', b64('{"s":0,"t":"junk"}')],
    ['{"s":0,"t":5}', b64('{"s":0,"t":5}')],
    ['a table token that is not JSON', encodeFindingsToken(0, b64('{"nextPartitionKey":'))],
    ['a table token without nextPartitionKey', encodeFindingsToken(0, b64('{"nextRowKey":"r"}'))],
    ['a table token with an empty nextPartitionKey', encodeFindingsToken(0, b64('{"nextPartitionKey":""}'))],
    ['a table token with a numeric nextRowKey', encodeFindingsToken(0, b64('{"nextPartitionKey":"p","nextRowKey":7}'))],
    ['a table token with an extra field', encodeFindingsToken(0, b64('{"nextPartitionKey":"p","x":1}'))],
    ['a table token with a control character', encodeFindingsToken(0, tableToken('p\r\nx-ms-injected: 1'))],
    ['a table token with a key over 2,048 characters', encodeFindingsToken(0, tableToken('p'.repeat(2049)))],
    ["the memory store's shape", b64('{"shard":0,"after":""}')],
    ['garbage', 'eyJzIjo'],
  ])('refuses %s with InvalidContinuationTokenError', (_name, token) => {
    expect(() => decodeFindingsToken(token, SHARDS)).toThrow(InvalidContinuationTokenError);
  });
});

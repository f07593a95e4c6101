import { LEGAL_ID_PUNCTUATION } from '../../shared/domain/identifiers';
import { seededRandom } from '../../shared/domain/seeded-random';
import {
  assertValidKey,
  deadLetterKeys,
  decodeKeySegment,
  encodeKeySegment,
  historyRowKey,
  invertedTicks,
  LATEST_ROW_KEY,
  parseHistoryRowKey,
} from '../../shared/domain/table-keys';

const LEGAL_ALPHABET = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789${LEGAL_ID_PUNCTUATION}`;

describe('encodeKeySegment / decodeKeySegment', () => {
  it.each([
    ['plain-device.01', 'plain-device.01'],
    ['a#b', 'a%23b'],
    ['a?b', 'a%3Fb'],
    ['a%b', 'a%25b'],
    ['a/b\\c', 'a%2Fb%5Cc'],
    ['tab\there', 'tab%09here'],
    ['del\u007f', 'del%7F'],
    ['c1\u0085', 'c1%85'],
    ["-:.+_*!(),=@;$'", "-:.+_*!(),=@;$'"],
    ['%23', '%2523'],
    ['', ''],
  ])('%j → %j', (id, encoded) => {
    expect(encodeKeySegment(id)).toBe(encoded);
    expect(decodeKeySegment(encoded)).toBe(id);
  });

  it('keeps every legal device-ID character except # ? % unchanged, and encodes those three', () => {
    const punctuation = [...LEGAL_ID_PUNCTUATION].map((character) => [character, encodeKeySegment(character)]);
    expect(Object.fromEntries(punctuation)).toEqual({
      '-': '-',
      ':': ':',
      '.': '.',
      '+': '+',
      '%': '%25',
      _: '_',
      '#': '%23',
      '*': '*',
      '?': '%3F',
      '!': '!',
      '(': '(',
      ')': ')',
      ',': ',',
      '=': '=',
      '@': '@',
      ';': ';',
      $: '$',
      "'": "'",
    });
  });

  it('round-trips 2,000 random legal IDs of 1–128 characters into valid keys', () => {
    // Seeded, so a failing round trip can be reproduced.
    const next = seededRandom(20240501);
    for (let run = 0; run < 2000; run++) {
      const length = 1 + Math.floor(next() * 128);
      let id = '';
      for (let i = 0; i < length; i++) id += LEGAL_ALPHABET[Math.floor(next() * LEGAL_ALPHABET.length)];
      const encoded = encodeKeySegment(id);
      expect(() => assertValidKey(encoded)).not.toThrow();
      expect(decodeKeySegment(encoded)).toBe(id);
    }
  });

  it('a 128-character ID made only of escaped characters stays within the key limit', () => {
    const encoded = encodeKeySegment('#?%'.repeat(43).slice(0, 128));
    expect(encoded).toHaveLength(384);
    expect(() => assertValidKey(encoded)).not.toThrow();
  });

  it.each([
    ['a%2', 'Key segment "a%2" has a \'%\' at index 1 that does not start a %XX escape'],
    ['a%zz', 'Key segment "a%zz" has a \'%\' at index 1 that does not start a %XX escape'],
    ['a%2f', 'Key segment "a%2f" has a \'%\' at index 1 that does not start a %XX escape'],
    ['a%41', 'Key segment "a%41" escapes U+0041, which encodeKeySegment never escapes'],
    ['a#b', 'Key segment "a#b" contains unescaped U+0023'],
  ])('rejects %j, which the encoder never produces', (segment, message) => {
    expect(() => decodeKeySegment(segment)).toThrow(message);
  });
});

describe('assertValidKey', () => {
  it.each([
    ['a/b', 'Table key "a/b" contains forbidden character U+002F at index 1'],
    ['a\\b', 'Table key "a\\\\b" contains forbidden character U+005C at index 1'],
    ['#', 'Table key "#" contains forbidden character U+0023 at index 0'],
    ['ab?', 'Table key "ab?" contains forbidden character U+003F at index 2'],
    ['x\u0000', 'Table key "x\\u0000" contains forbidden character U+0000 at index 1'],
    ['x\n', 'Table key "x\\n" contains forbidden character U+000A at index 1'],
    ['x\u001f', 'Table key "x\\u001f" contains forbidden character U+001F at index 1'],
    ['x\u007f', 'Table key "x\u007f" contains forbidden character U+007F at index 1'],
    ['x\u009f', 'Table key "x\u009f" contains forbidden character U+009F at index 1'],
    ['k'.repeat(1025), 'Table key is 1025 characters long; the limit is 1024'],
  ])('rejects %j', (key, message) => {
    expect(() => assertValidKey(key)).toThrow(message);
  });

  it.each([['k'.repeat(1024)], ['\'"{}[]():@&=+,$-_<>;~^!%*'], ['x\u00a0'], [LATEST_ROW_KEY]])('accepts %j', (key) => {
    expect(() => assertValidKey(key)).not.toThrow();
  });
});

describe('invertedTicks', () => {
  it.each([
    // 2000-01-01 is 630822816000000000 .NET ticks: DateTime.MaxValue.Ticks (3155378975999999999) minus that.
    ['2000-01-01T00:00:00.000Z', '2524556159999999999'],
    ['1970-01-01T00:00:00.000Z', '2534023007999999999'],
    ['0001-01-01T00:00:00.000Z', '3155378975999999999'],
    ['9999-12-31T23:59:59.999Z', '0000000000000009999'],
    // 2024-05-01 is day 739006 since 0001-01-01: 739006 × 864000000000 + 12 h + 1 ms = 638501616000010000 ticks.
    ['2024-05-01T12:00:00.001Z', '2516877359999989999'],
  ])('%s → %s', (iso, expected) => {
    expect(invertedTicks(new Date(iso))).toBe(expected);
  });

  it('sorts newer times first', () => {
    const older = invertedTicks(new Date('2024-05-01T12:00:00.000Z'));
    const newer = invertedTicks(new Date('2024-05-01T12:00:00.001Z'));
    expect(newer < older).toBe(true);
  });

  it.each([
    [new Date(Number.NaN), 'Cannot compute inverted ticks for an invalid Date: outside 0001-01-01..9999-12-31'],
    [
      new Date('+010000-01-01T00:00:00.000Z'),
      'Cannot compute inverted ticks for +010000-01-01T00:00:00.000Z: outside 0001-01-01..9999-12-31',
    ],
  ])('rejects %p', (at, message) => {
    expect(() => invertedTicks(at)).toThrow(new RangeError(message));
  });
});

describe('historyRowKey / parseHistoryRowKey', () => {
  const at = new Date('2024-05-01T12:00:00.001Z');

  it('is inverted ticks, 3-digit partition and 20-digit sequence number', () => {
    expect(historyRowKey(at, '7', 4711)).toBe('2516877359999989999_007_00000000000000004711');
    expect(historyRowKey(at, '1024', 0)).toBe('2516877359999989999_1024_00000000000000000000');
  });

  it('round-trips', () => {
    expect(parseHistoryRowKey(historyRowKey(at, '7', 4711))).toEqual({ at, partitionId: '7', sequenceNumber: 4711 });
    expect(parseHistoryRowKey(historyRowKey(at, '1024', Number.MAX_SAFE_INTEGER))).toEqual({
      at,
      partitionId: '1024',
      sequenceNumber: Number.MAX_SAFE_INTEGER,
    });
  });

  it('orders newest first, then by partition and sequence number within the same millisecond', () => {
    const keys = [
      historyRowKey(at, '1', 5),
      historyRowKey(new Date(at.getTime() + 1), '0', 1),
      historyRowKey(at, '0', 9),
      historyRowKey(at, '1', 10),
    ];
    expect([...keys].sort()).toEqual([keys[1], keys[2], keys[0], keys[3]]);
  });

  it.each<[string, number, string]>([
    ['unknown', 1, 'Partition id "unknown" is not numeric; history row keys need an Event Hubs partition number'],
    ['0', -1, 'Sequence number -1 is not a non-negative integer'],
    ['0', 1.5, 'Sequence number 1.5 is not a non-negative integer'],
  ])('rejects partition %j, sequence %p', (partitionId, sequenceNumber, message) => {
    expect(() => historyRowKey(at, partitionId, sequenceNumber)).toThrow(message);
  });

  it.each([
    'latest',
    '2516877359999989999_007_4711',
    '2516877359999989999-007-00000000000000004711',
    '9999999999999999999_007_00000000000000004711',
  ])('parse rejects %j', (rowKey) => {
    expect(() => parseHistoryRowKey(rowKey)).toThrow(/is not a history row key/);
  });
});

describe('deadLetterKeys', () => {
  it('partitions by UTC day of the enqueued time and keys by partition and sequence number', () => {
    expect(
      deadLetterKeys({ partitionId: '3', sequenceNumber: 62, offset: '31768', enqueuedTime: new Date('2022-05-27T23:59:59.999Z') }),
    ).toEqual({
      partitionKey: '20220527',
      rowKey: '003_00000000000000000062',
    });
  });

  it('accepts the synthetic positions decode-events produces', () => {
    expect(deadLetterKeys({ partitionId: 'unknown', sequenceNumber: -2, offset: '', enqueuedTime: new Date(0) })).toEqual({
      partitionKey: '19700101',
      rowKey: 'unknown_-0000000000000000002',
    });
  });

  it('encodes a partition id that is not a number', () => {
    expect(deadLetterKeys({ partitionId: 'p#1', sequenceNumber: 1, offset: '', enqueuedTime: new Date(0) }).rowKey).toBe(
      'p%231_00000000000000000001',
    );
  });

  it('rejects an invalid enqueued time', () => {
    expect(() => deadLetterKeys({ partitionId: '0', sequenceNumber: 1, offset: '', enqueuedTime: new Date(Number.NaN) })).toThrow(
      'Cannot build dead-letter keys: enqueued time is not a valid date between 1970 and 9999',
    );
  });
});

describe('sharded posture keys', () => {
  const { postureShard, latestKeys, historyKeys, parseHistoryKeys, historyRange, POSTURE_SHARD_COUNT } =
    jest.requireActual<typeof import('../../shared/domain/table-keys')>('../../shared/domain/table-keys');

  it('pins the shard function (it is part of the storage format)', () => {
    // FNV-1a("a") is 0xe40c292c (the published test vector), so the hash itself is the standard one.
    expect(postureShard('a')).toBe(String(0xe40c292c % POSTURE_SHARD_COUNT).padStart(2, '0'));
    expect([postureShard('device-1'), postureShard('device-2'), postureShard("odd#?%'id"), postureShard('')]).toEqual([
      '01',
      '08',
      '13',
      '05',
    ]);
  });

  it('spreads a fleet evenly over the shards', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 16_000; i++) counts.set(postureShard(`dev-${i}`), (counts.get(postureShard(`dev-${i}`)) ?? 0) + 1);
    expect(counts.size).toBe(POSTURE_SHARD_COUNT);
    for (const count of counts.values()) expect(count).toBeGreaterThan(800);
  });

  it('keeps one device history contiguous, newest first, and apart from devices sharing a prefix', () => {
    const at = (minute: number): Date => new Date(Date.UTC(2026, 10, 23, 10, minute));
    const rows = [
      historyKeys('ab', at(1), '0', 1).rowKey,
      historyKeys('ab', at(2), '0', 2).rowKey,
      historyKeys('abc', at(3), '0', 3).rowKey,
      historyKeys('ab#', at(4), '0', 4).rowKey,
    ];
    const range = historyRange('ab');
    const inRange = rows.filter((r) => r >= range.lower && r < range.upperExclusive).sort();
    expect(inRange).toEqual([historyKeys('ab', at(2), '0', 2).rowKey, historyKeys('ab', at(1), '0', 1).rowKey]);
    const window = historyRange('ab', at(2), at(2));
    expect(rows.filter((r) => r >= window.lower && r < window.upperExclusive)).toEqual([historyKeys('ab', at(2), '0', 2).rowKey]);
  });

  it('round-trips device and position through the RowKey, for every legal character', () => {
    const deviceId = "a-:.+%_#*?!(),=@;$'z";
    const keys = historyKeys(deviceId, new Date('2026-11-23T10:00:00.123Z'), '3', 42);
    expect(keys.partitionKey).toBe(latestKeys(deviceId).partitionKey);
    expect(parseHistoryKeys(keys.rowKey)).toEqual({
      deviceId,
      at: new Date('2026-11-23T10:00:00.123Z'),
      partitionId: '3',
      sequenceNumber: 42,
    });
  });
});

describe('history windows at the edges of what keys can represent', () => {
  const { clampHistoryWindow, historyKeys, historyRange, EARLIEST_KEY_TIME, LATEST_KEY_TIME } =
    jest.requireActual<typeof import('../../shared/domain/table-keys')>('../../shared/domain/table-keys');
  const d = (iso: string): Date => new Date(iso);
  const mid = d('2026-11-23T10:00:00Z');

  it.each<[string, Date | undefined, Date | undefined, { from?: Date; to?: Date; empty: boolean }]>([
    ['no bounds', undefined, undefined, { empty: false }],
    ['ordinary bounds are kept', mid, mid, { from: mid, to: mid, empty: false }],
    ['from 0001-01-01T00:00:00Z (the earliest instant) means no lower bound', d('0001-01-01T00:00:00Z'), undefined, { empty: false }],
    ['from before year 1 means no lower bound', d('0000-01-01'), mid, { to: mid, empty: false }],
    ['to 0000-01-01 leaves nothing to find', undefined, d('0000-01-01'), { empty: true }],
    ['to 0001-01-01 (the earliest instant) is kept', undefined, EARLIEST_KEY_TIME, { to: EARLIEST_KEY_TIME, empty: false }],
    [
      'to 9999-12-31T23:59:59-05:00 (10000-01-01 UTC) means no upper bound',
      mid,
      d('9999-12-31T23:59:59-05:00'),
      { from: mid, empty: false },
    ],
    ['to the latest instant means no upper bound', undefined, LATEST_KEY_TIME, { empty: false }],
    ['from the latest instant is kept', LATEST_KEY_TIME, undefined, { from: LATEST_KEY_TIME, empty: false }],
    ['from after 9999-12-31 UTC leaves nothing to find', d('9999-12-31T23:59:59-05:00'), undefined, { empty: true }],
  ])('%s', (_name, from, to, expected) => {
    expect(clampHistoryWindow(from, to)).toEqual(expected);
  });

  it.each([
    ['0001-01-01T00:00:00Z', undefined],
    [undefined, '0000-01-01'],
    [undefined, '9999-12-31T23:59:59-05:00'],
    ['9999-12-31T23:59:59-05:00', undefined],
    ['0000-01-01', '9999-12-31T23:59:59-05:00'],
  ])('historyRange(from=%s, to=%s) never throws and selects exactly the entries in the window', (from, to) => {
    const fromDate = from === undefined ? undefined : d(from);
    const toDate = to === undefined ? undefined : d(to);
    const instants = [EARLIEST_KEY_TIME, d('1970-01-01T00:00:00Z'), mid, LATEST_KEY_TIME];
    const rows = instants.map((at, i) => ({ at, rowKey: historyKeys('dev', at, '0', i).rowKey }));
    const range = historyRange('dev', fromDate, toDate);
    const selected = rows.filter((row) => row.rowKey >= range.lower && row.rowKey < range.upperExclusive).map((row) => row.at);
    const expected = instants.filter((at) => (fromDate === undefined || at >= fromDate) && (toDate === undefined || at <= toDate));
    expect(selected.sort((a, b) => a.getTime() - b.getTime())).toEqual(expected);
  });
});

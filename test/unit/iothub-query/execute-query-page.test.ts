/** SELECT/FROM parsing and paging of the IoT Hub query language, without a registry behind them. */
import { executeQueryPage, type QuerySlot, type QuerySource } from '../../../shared/domain/iothub-query/execute-query-page';
import { parseQuery, QuerySyntaxError } from '../../../shared/domain/iothub-query/parse-query';

function sourceOf(devices: QuerySlot[], modules: QuerySlot[] = []): QuerySource {
  return { slots: (collection) => (collection === 'devices' ? devices : modules) };
}

const device = (seq: number, deviceId: string, environment: string, deleted = false): QuerySlot => ({
  seq,
  deleted,
  twin: { deviceId, tags: { environment } },
});

const fleet = sourceOf(
  [device(1, 'a', 'prod'), device(2, 'b', 'dev'), device(3, 'c', 'prod', true), device(4, 'd', 'prod'), device(5, 'e', 'prod')],
  [{ seq: 6, deleted: false, twin: { deviceId: 'a', moduleId: 'm' } }],
);

function allPages(text: string, pageSize: number): unknown[][] {
  const query = parseQuery(text);
  const pages: unknown[][] = [];
  let token: string | undefined;
  do {
    const page = executeQueryPage(fleet, query, pageSize, token);
    pages.push(page.items);
    token = page.continuationToken;
  } while (token !== undefined);
  return pages;
}

describe('parseQuery + executeQueryPage', () => {
  it('pages over live slots in seq order, skipping deleted ones, with no token on the last page', () => {
    expect(allPages("SELECT deviceId FROM devices WHERE tags.environment = 'prod'", 2)).toEqual([
      [{ deviceId: 'a' }, { deviceId: 'd' }],
      [{ deviceId: 'e' }],
    ]);
  });

  it('honours TOP across pages, AS aliases and COUNT()', () => {
    expect(allPages('SELECT TOP 3 tags.environment AS env FROM devices', 2)).toEqual([
      [{ env: 'prod' }, { env: 'dev' }],
      [{ env: 'prod' }],
    ]);
    expect(allPages("SELECT COUNT() AS n FROM devices WHERE tags.environment = 'prod'", 1)).toEqual([[{ n: 3 }]]);
    expect(allPages('SELECT * FROM devices.modules', 10)).toEqual([[{ deviceId: 'a', moduleId: 'm' }]]);
  });

  it('rejects what the subset does not support, and tokens of another collection', () => {
    expect(() => parseQuery('SELECT deviceId FROM devices GROUP BY tags.environment')).toThrow(QuerySyntaxError);
    expect(() => parseQuery('SELECT * FROM configurations')).toThrow(QuerySyntaxError);
    expect(() => parseQuery("SELECT * FROM devices WHERE tags.x = 'unterminated")).toThrow(QuerySyntaxError);
    const token = executeQueryPage(fleet, parseQuery('SELECT * FROM devices'), 1).continuationToken;
    expect(token).toBeDefined();
    expect(() => executeQueryPage(fleet, parseQuery('SELECT * FROM devices.modules'), 1, token)).toThrow(
      'Continuation token belongs to a different query',
    );
    expect(() => executeQueryPage(fleet, parseQuery('SELECT * FROM devices'), 1, 'not-a-token')).toThrow('Invalid continuation token');
  });
});

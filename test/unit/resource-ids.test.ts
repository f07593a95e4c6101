import { assertValidKey } from '../../shared/domain/table-keys';
import { isLegalResourceId, MAX_RESOURCE_ID_LENGTH } from '../../shared/domain/identifiers';
import { newSweepId } from '../../shared/services/sweep/start-sweep';
import { createSuppression } from '../../shared/services/suppressions-api';
import { MemorySuppressionStore } from '../../shared/adapters/memory/memory-suppression-store';

describe('sweep and suppression ids (table keys)', () => {
  it('accepts every id TwinGuard generates', async () => {
    const at = new Date('2026-11-23T02:00:00.000Z');
    const store = new MemorySuppressionStore();
    await createSuppression({ ruleId: '*', deviceId: 'd', reason: 'r' }, store, at);
    const [suppression] = await store.list();
    for (const id of [newSweepId(at, 'sched'), newSweepId(at, 'a1b2c3'), suppression!.id]) {
      expect(isLegalResourceId(id)).toBe(true);
      expect(() => assertValidKey(id)).not.toThrow();
    }
  });

  it.each(['s-1', 'sw-bulk', 'a', 'A_b.c-1', 'x'.repeat(MAX_RESOURCE_ID_LENGTH)])('accepts %j', (id) => {
    expect(isLegalResourceId(id)).toBe(true);
    expect(() => assertValidKey(id)).not.toThrow();
  });

  it.each([
    '',
    'a/b',
    'a\\b',
    'a#b',
    'a?b',
    'a b',
    'a\u0000b',
    'a\u007fb',
    '~recent',
    '-x',
    '.x',
    '_x',
    "a'b",
    'é',
    'x'.repeat(MAX_RESOURCE_ID_LENGTH + 1),
  ])('refuses %j', (id) => {
    expect(isLegalResourceId(id)).toBe(false);
  });
});

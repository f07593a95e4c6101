/**
 * The standalone host's own settings (host/standalone-host.ts): defaults, validation, and the Event Hubs SDK
 * load-balancing options they turn into.
 */
import { loadBalancingOf, newHostId, readStandaloneSettings, RENEWALS_PER_EXPIRY } from '../../host/standalone-host';

describe('readStandaloneSettings', () => {
  it('defaults to greedy claiming with a 20 s ownership expiry, renewed every 5 s', () => {
    const settings = readStandaloneSettings({});
    expect(settings).toMatchObject({ loadBalancing: 'greedy', ownershipExpiryMs: 20_000 });
    expect(loadBalancingOf(settings)).toEqual({
      strategy: 'greedy',
      updateIntervalInMs: 5000,
      partitionOwnershipExpirationIntervalInMs: 20_000,
    });
  });

  it.each([
    [{ STANDALONE_LOAD_BALANCING: 'balanced', STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '60' }, 'balanced', 15_000, 60_000],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '4' }, 'greedy', 1000, 4000],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: ' 600 ' }, 'greedy', 150_000, 600_000],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '' }, 'greedy', 5000, 20_000],
  ])('%j → %s, renewals every %d ms, expiry %d ms', (env, strategy, updateIntervalInMs, expiryMs) => {
    expect(loadBalancingOf(readStandaloneSettings(env))).toEqual({
      strategy,
      updateIntervalInMs,
      partitionOwnershipExpirationIntervalInMs: expiryMs,
    });
  });

  it('keeps the expiry several renewals long (the .NET processor advises a factor of three or more)', () => {
    expect(RENEWALS_PER_EXPIRY).toBeGreaterThanOrEqual(3);
  });

  it.each([
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '3' }, 'STANDALONE_OWNERSHIP_EXPIRY_SECONDS must be a whole number of seconds from 4 to 600'],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '601' }, 'STANDALONE_OWNERSHIP_EXPIRY_SECONDS'],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: '7.5' }, 'STANDALONE_OWNERSHIP_EXPIRY_SECONDS'],
    [{ STANDALONE_OWNERSHIP_EXPIRY_SECONDS: 'soon' }, 'STANDALONE_OWNERSHIP_EXPIRY_SECONDS'],
    [{ STANDALONE_LOAD_BALANCING: 'random' }, 'STANDALONE_LOAD_BALANCING must be balanced or greedy'],
  ])('refuses %j', (env, message) => {
    expect(() => readStandaloneSettings(env)).toThrow(message);
  });
});

describe('newHostId', () => {
  it('differs between calls, so a restarted process never inherits its predecessor’s partition claims', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newHostId()));
    expect(ids.size).toBe(50);
    expect(newHostId()).toContain(`-${process.pid}-`);
  });
});

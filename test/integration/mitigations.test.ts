/**
 * Mitigations against the IoT Hub emulator (azure-iothub over REST) with the audit and the alert outbox on Azurite
 * tables: each action applied by a sweep, idempotent on the next sweep, nothing under dryRun or for suppressed
 * findings, within the registry budget; and POST /api/mitigations through its function handler (bounds, chosen devices,
 * filters, audit with the caller's key name).
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { TableClient } from '@azure/data-tables';
import { makeMitigationsHandler } from '../../functions/mitigations';
import { makeMitigationAuditHandler } from '../../functions/mitigations-audit';
import { startEmbeddedAzurite, type EmbeddedAzurite } from '../../host/embedded-azurite';
import { IotHubDeviceMitigations } from '../../shared/adapters/iothub-device-mitigations';
import { MemorySuppressionStore } from '../../shared/adapters/memory/memory-suppression-store';
import { MemorySweepStore } from '../../shared/adapters/memory/memory-sweep-store';
import { TableAlertOutbox } from '../../shared/adapters/table-alert-outbox';
import { createTableClient, ensureTables } from '../../shared/adapters/table-clients';
import { TableMitigationAudit } from '../../shared/adapters/table-mitigation-audit';
import { ALERT_EVENT_TYPES } from '../../shared/domain/alerts/cloud-event';
import { parseMitigationRules } from '../../shared/domain/mitigations/mitigation-rules';
import { silentLogger } from '../../shared/logger';
import { streamFindingsCsv } from '../../shared/services/findings-api';
import { applyMitigations } from '../../shared/services/mitigations/apply-mitigations';
import type { MitigationsApiServices } from '../../shared/services/mitigations/mitigations-api';
import type { MitigationServices } from '../../shared/services/mitigations/mitigation-services';
import { meteringLogger, type BudgetedRegistry } from '../../shared/services/registry-budget';
import { KEY_NAME_HEADER } from '../../shared/triggers/caller-identity';
import { sweepHarness, type SweepHarness } from '../../testing/sweep-harness';
import { addDevice, MODULE, startFleetHub, type FleetHub } from '../../testing/sweep-fleet';

const RULES = 'agent-failed:quarantine+notify+disableModule,configuration-drift:quarantine,agent-stale:disableDevice';

function twinTags(hub: FleetHub, deviceId: string, moduleId?: string): Record<string, unknown> {
  return (hub.registry.getTwin(deviceId, moduleId) as unknown as { tags?: Record<string, unknown> }).tags ?? {};
}

function post(body: string, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/mitigations',
    body: { string: body },
    headers: { 'content-type': 'application/json', 'x-functions-key': 'k3y-for-tests', ...headers },
  });
}

const context = (): InvocationContext => new InvocationContext({ invocationId: 'req-1', logHandler: () => undefined });

describe('mitigations on the emulator and Azurite', () => {
  let azurite: EmbeddedAzurite;
  let hub: FleetHub;
  let h: SweepHarness;
  let auditTable: TableClient;
  let outbox: TableAlertOutbox;
  let audit: TableMitigationAudit;
  let sweeps: MemorySweepStore;
  let mitigations: MitigationServices;

  beforeAll(async () => {
    azurite = await startEmbeddedAzurite({});
  });
  afterAll(async () => {
    await azurite.stop();
  });

  beforeEach(async () => {
    hub = await startFleetHub();
    for (let i = 0; i < 5; i++) addDevice(hub, `healthy-${i}`, 'healthy');
    addDevice(hub, 'failed-1', 'failed');
    addDevice(hub, "o'failed#2", 'failed');
    addDevice(hub, 'drifted-1', 'drifted');
    addDevice(hub, 'stale-1', 'stale');
    addDevice(hub, 'lab-1', 'failed', { tags: { site: 'lab' } });
    const suffix = Math.random().toString(36).slice(2, 8);
    auditTable = createTableClient({ connectionString: azurite.connectionString }, `Audit${suffix}`);
    const outboxTable = createTableClient({ connectionString: azurite.connectionString }, `Outbox${suffix}`);
    await ensureTables([auditTable, outboxTable]);
    audit = new TableMitigationAudit(auditTable, { retryBudgetMs: 5000 });
    outbox = new TableAlertOutbox(outboxTable, { retryBudgetMs: 5000 });
    const suppressions = new MemorySuppressionStore();
    await suppressions.put({
      id: 'sup-lab',
      ruleId: '*',
      selector: "tags.site = 'lab'",
      reason: 'lab bench',
      createdAt: new Date(hub.clock.now).toISOString(),
    });
    sweeps = new MemorySweepStore();
    h = sweepHarness(hub, {
      sweeps,
      suppressions,
      now: () => new Date(hub.clock.now),
      settings: { repairRules: new Set(), bucketDevices: 100, shards: 2 },
      budget: { queriesPerMinute: 1_000_000, operationsPerMinute: 1_000_000 },
    });
    const registry = h.services.registry as BudgetedRegistry;
    mitigations = {
      devices: new IotHubDeviceMitigations(h.sdk, {
        retryBudgetMs: 10_000,
        beforeCall: () => registry.takeOperation(),
        logger: meteringLogger(h.services.meter, silentLogger),
      }),
      audit,
      alerts: { outbox, source: '/twinguard/sweep-test' },
      settings: {
        rules: parseMitigationRules(RULES, true).rules,
        allowDisruptive: true,
        quarantineTag: ['twinguard', 'quarantine'],
        moduleId: MODULE,
      },
    };
    h.services.mitigations = mitigations;
  });
  afterEach(async () => {
    h.close();
    await hub.stop();
  });

  it('a dry run records every action as dryRun and changes nothing on the hub', async () => {
    const run = await h.sweep({ dryRun: true, sweepId: 'sw-dry' });
    expect(run.summary?.counters.repairs).toEqual({
      'notify:dryRun': 2,
      'quarantine:dryRun': 3,
      'disableModule:dryRun': 2,
      'disableDevice:dryRun': 1,
    });
    expect(twinTags(hub, 'failed-1')).toEqual({});
    expect(hub.registry.getDevice('stale-1').status).toBe('enabled');
    expect(await outbox.pending(100)).toEqual([]);
    const entries = (await audit.list({ month: '202611', limit: 100 })).entries;
    expect(entries).toHaveLength(8);
    expect(entries.every((entry) => entry.dryRun && entry.result === 'dryRun' && entry.who === 'sweep')).toBe(true);
  });

  it('applies each action once, never for suppressed findings, records it on the findings and within the budget', async () => {
    const keyBefore = hub.registry.keysOf('failed-1', MODULE)?.primaryKey;
    const opsBefore = h.services.meter.operations;
    // A throttled twin update is retried after its Retry-After by the adapter, and counted as the sweep's throttle.
    hub.faults.throttleNext('twinUpdate', 1, 1);
    const run = await h.sweep({ sweepId: 'sw-1' });
    expect(run.summary?.counters.throttles).toBe(1);
    expect(run.summary?.counters.repairs).toEqual({
      'notify:applied': 2,
      'quarantine:applied': 3,
      'disableModule:applied': 2,
      'disableDevice:applied': 1,
    });
    // Reads and writes of the mitigations went through the registry budget: 2 per quarantine and disableDevice, 4 per
    // disableModule, the retried attempt once more, and the sweep's one read of the hub's configurations (ADM).
    expect(h.services.meter.operations - opsBefore).toBe(3 * 2 + 1 * 2 + 2 * 4 + 1 + 1);
    expect(twinTags(hub, 'failed-1')).toEqual({ twinguard: { quarantine: true } });
    expect(twinTags(hub, "o'failed#2")).toEqual({ twinguard: { quarantine: true } });
    expect(twinTags(hub, 'drifted-1')).toEqual({ twinguard: { quarantine: true } });
    expect(twinTags(hub, 'failed-1', MODULE)).toEqual({ twinguard: { moduleDisabled: true } });
    expect(hub.registry.keysOf('failed-1', MODULE)?.primaryKey).not.toBe(keyBefore);
    expect(hub.registry.getDevice('stale-1')).toMatchObject({ status: 'disabled', statusReason: 'TwinGuard mitigation: agent-stale' });
    // Suppressed: nothing at all.
    expect(twinTags(hub, 'lab-1')).toEqual({ site: 'lab' });
    expect(twinTags(hub, 'lab-1', MODULE)).toEqual({});
    const failedRow = sweeps.allFindings('sw-1').find((row) => row.deviceId === 'failed-1' && row.ruleId === 'agent-failed');
    expect(failedRow?.mitigations).toEqual([
      { action: 'notify', result: 'applied' },
      { action: 'quarantine', result: 'applied' },
      { action: 'disableModule', result: 'applied' },
    ]);
    const csv = await streamFindingsCsv({ sweepId: 'sw-1', rule: 'agent-failed' }, sweeps);
    let text = '';
    if ('lines' in csv) for await (const line of csv.lines) text += line;
    expect(text.split('\r\n').find((line) => line.startsWith('failed-1,'))).toMatch(
      /,notify:applied quarantine:applied disableModule:applied$/,
    );
    const notified = (await outbox.pending(100)).filter((row) => row.event.type === ALERT_EVENT_TYPES.mitigationNotify);
    expect(notified.map((row) => row.event.subject).sort()).toEqual(['failed-1', "o'failed#2"]);

    hub.clock.now += 60_000;
    const second = await h.sweep({ sweepId: 'sw-2' });
    expect(second.summary?.counters.repairs).toEqual({
      'notify:applied': 2,
      'quarantine:alreadyApplied': 3,
      'disableModule:alreadyApplied': 2,
      'disableDevice:alreadyApplied': 1,
    });
    // A redone bucket (a redelivered shard message) notifies nobody twice: the event id comes from sweep and device.
    const replay = await applyMitigations(
      [{ deviceId: 'failed-1', planned: [{ action: 'notify', ruleIds: ['agent-failed'] }], violations: [] }],
      { sweepId: 'sw-2', requestId: 'sw-2', who: 'sweep', source: 'sweep', dryRun: false, at: new Date(second.startedAt) },
      mitigations,
      { concurrency: 1, logger: silentLogger },
    );
    expect(replay.map((item) => item.result)).toEqual(['alreadyApplied']);
    const audits = (await audit.list({ month: '202611', limit: 100 })).entries;
    expect(audits.filter((entry) => entry.requestId === 'sw-2')).toHaveLength(8);
  });

  it('cannot disable an X.509 module (unsupported) and reports devices and modules that are gone, writing nothing', async () => {
    hub.registry.createDevice({ deviceId: 'ca-1', authentication: { type: 'certificateAuthority' } }, { notify: false });
    hub.registry.createModule({ deviceId: 'ca-1', moduleId: MODULE, authentication: { type: 'certificateAuthority' } }, { notify: false });
    const devices = mitigations.devices;
    expect(await devices.disableModule('ca-1', MODULE)).toBe('unsupported');
    expect(twinTags(hub, 'ca-1', MODULE)).toEqual({});
    expect(await devices.disableModule('ca-1', 'no-such-module')).toBe('moduleNotFound');
    expect(await devices.quarantine('no-such-device', ['twinguard', 'quarantine'])).toBe('deviceNotFound');
    expect(await devices.disableDevice('no-such-device', 'why')).toBe('deviceNotFound');
  });

  describe('POST /api/mitigations', () => {
    let services: MitigationsApiServices;
    beforeEach(async () => {
      await h.sweep({ sweepId: 'sw-api', dryRun: true });
      services = { ...mitigations, sweeps, now: () => new Date(hub.clock.now), logger: silentLogger };
    });

    it('answers 400 for bad bodies and 413 for large ones, never 500', async () => {
      const handler = makeMitigationsHandler(
        () => Promise.resolve(services),
        () => false,
      );
      const cases: [string, number, string][] = [
        ['[]', 400, 'JSON object'],
        ['{"bogus":1}', 400, 'unknown fields: bogus'],
        ['{"actions":["explode"]}', 400, 'actions must be among'],
        ['{"deviceIds":[]}', 400, 'deviceIds must list 1–100'],
        [JSON.stringify({ deviceIds: Array.from({ length: 101 }, (_, i) => `d${i}`) }), 400, 'deviceIds must list 1–100'],
        ['{"deviceIds":["bad/id"]}', 400, 'legal device ids'],
        ['{"limit":0}', 400, 'limit must be'],
        ['{"filter":{"rule":"nope"}}', 400, 'filter.rule'],
        ['{"dryRun":"yes"}', 400, 'dryRun'],
        ['{"sweepId":"no such"}', 400, 'sweepId'],
        ['{"sweepId":"sw-none"}', 404, 'no planned sweep'],
        ['{"continuationToken":"forged"}', 400, 'continuationToken'],
        ['{"a":{"b":{"c":{"d":{"e":1}}}}}', 400, 'nest'],
        ['not json', 400, 'not valid JSON'],
      ];
      for (const [body, status, text] of cases) {
        const response = await handler(post(body), context());
        expect({ body, status: response.status }).toEqual({ body, status });
        expect(JSON.stringify(response.jsonBody)).toContain(text);
      }
      const big = await handler(post(JSON.stringify({ filter: { device: 'x'.repeat(300_000) } })), context());
      expect(big.status).toBe(413);
      const strict = { ...services, settings: { ...services.settings, allowDisruptive: false } };
      const refused = await makeMitigationsHandler(
        () => Promise.resolve(strict),
        () => false,
      )(post('{"actions":["disableDevice"]}'), context());
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.jsonBody)).toContain('MITIGATION_ALLOW_DISRUPTIVE');
      expect(twinTags(hub, 'failed-1')).toEqual({});
    });

    it('applies chosen actions to chosen devices and audits the key name', async () => {
      const handler = makeMitigationsHandler(
        () => Promise.resolve(services),
        () => true,
      );
      const response = await handler(
        post(JSON.stringify({ deviceIds: ['drifted-1', 'healthy-0', 'lab-1'], actions: ['quarantine'] }), {
          [KEY_NAME_HEADER]: 'ops-team',
        }),
        context(),
      );
      expect(response.status).toBe(200);
      expect(response.jsonBody).toMatchObject({
        sweepId: 'sw-api',
        devices: 1,
        results: [{ deviceId: 'drifted-1', action: 'quarantine', result: 'applied', ruleIds: ['configuration-drift'] }],
      });
      expect(twinTags(hub, 'drifted-1')).toEqual({ twinguard: { quarantine: true } });
      expect(twinTags(hub, 'lab-1')).toEqual({ site: 'lab' });
      const auditAnswer = await makeMitigationAuditHandler(() =>
        Promise.resolve({ auditReader: audit, now: () => new Date(hub.clock.now) }),
      )(new HttpRequest({ method: 'GET', url: 'http://localhost/api/mitigations/audit?limit=5' }), context());
      const entries = (auditAnswer.jsonBody as { entries: { who: string; source: string; deviceId: string }[] }).entries;
      expect(entries[0]).toMatchObject({ who: 'key:ops-team', source: 'api', deviceId: 'drifted-1', requestId: 'req-1' });
    });

    it('pages a filtered set with the configured actions; an untrusted key-name header is ignored', async () => {
      const handler = makeMitigationsHandler(
        () => Promise.resolve(services),
        () => false,
      );
      const first = await handler(
        post(JSON.stringify({ filter: { rule: 'agent-failed' }, limit: 1 }), { [KEY_NAME_HEADER]: 'spoofed' }),
        context(),
      );
      expect(first.status).toBe(200);
      const body = first.jsonBody as { results: { deviceId: string; action: string; result: string }[]; continuationToken: string | null };
      expect(new Set(body.results.map((r) => r.deviceId)).size).toBe(1);
      expect(body.results.map((r) => r.action)).toEqual(['notify', 'quarantine', 'disableModule']);
      expect(body.continuationToken).not.toBeNull();
      const second = await handler(
        post(JSON.stringify({ filter: { rule: 'agent-failed' }, limit: 1, continuationToken: body.continuationToken })),
        context(),
      );
      const devices = new Set([
        ...body.results.map((r) => r.deviceId),
        ...(second.jsonBody as { results: { deviceId: string }[] }).results.map((r) => r.deviceId),
      ]);
      expect([...devices].sort()).toEqual(['failed-1', "o'failed#2"]);
      const entries = (await audit.list({ month: '202611', limit: 100 })).entries.filter((entry) => entry.source === 'api');
      expect(entries.length).toBe(6);
      expect(entries.every((entry) => /^key-sha256:[0-9a-f]{12}$/.test(entry.who))).toBe(true);
      expect(JSON.stringify(entries)).not.toContain('k3y-for-tests');
    });
  });
});

/** The pure parts of mitigations and alerts: rule parsing and planning, change detection, CloudEvents, signatures, dispatch order. */
import { alertEventId, alertSource, buildCloudEvent, ALERT_EVENT_TYPES } from '../../shared/domain/alerts/cloud-event';
import { complianceDrop, deviceChange } from '../../shared/domain/alerts/compliance-changes';
import { signBody, verifySignature } from '../../shared/domain/alerts/webhook-signature';
import { parseMitigationRules, planMitigations } from '../../shared/domain/mitigations/mitigation-rules';
import { loadConfig } from '../../shared/config/load-config';
import { ConfigError } from '../../shared/config/config-error';
import type { OutboxRow } from '../../shared/ports/alert-outbox';
import { batchesOf, dueRows, retryDelayMs } from '../../shared/services/alerts/dispatch-alerts';
import { metricsFromLog } from '../../shared/telemetry/metrics-from-log';

describe('SWEEP_MITIGATION_RULES', () => {
  it('parses rule:action+action pairs, merges repeats and keeps action order', () => {
    const { rules, problems } = parseMitigationRules('agent-failed:quarantine+notify, agent-failed:disableDevice ,*:notify', true);
    expect(problems).toEqual([]);
    expect(Object.fromEntries(rules)).toEqual({ 'agent-failed': ['notify', 'quarantine', 'disableDevice'], '*': ['notify'] });
    expect(parseMitigationRules('none', false).rules.size).toBe(0);
    expect(parseMitigationRules('  ', false).rules.size).toBe(0);
  });

  it('names every problem: unknown rule, unknown action, no action, disruptive without opt-in', () => {
    const { problems } = parseMitigationRules('bogus:notify,agent-failed:explode,module-missing,identity-disabled:disableModule', false);
    expect(problems).toEqual([
      expect.stringContaining('"bogus" is not a rule id'),
      expect.stringContaining('"explode" is not a mitigation action'),
      expect.stringContaining('"module-missing" names no action'),
      expect.stringContaining('"disableModule" is disruptive and needs MITIGATION_ALLOW_DISRUPTIVE=true'),
    ]);
  });

  it('plans the union of the violated rules’ actions, never for suppressed findings, narrowed on request', () => {
    const { rules } = parseMitigationRules('agent-failed:quarantine,agent-stale:notify+quarantine,*:notify', false);
    const findings = [
      { ruleId: 'agent-failed' as const, status: 'violation' as const },
      { ruleId: 'agent-stale' as const, status: 'suppressed' as const },
    ];
    expect(planMitigations(findings, rules)).toEqual([
      { action: 'notify', ruleIds: ['agent-failed'] },
      { action: 'quarantine', ruleIds: ['agent-failed'] },
    ]);
    expect(planMitigations(findings, rules, new Set(['quarantine']))).toEqual([{ action: 'quarantine', ruleIds: ['agent-failed'] }]);
    expect(planMitigations([{ ruleId: 'agent-stale', status: 'suppressed' }], rules)).toEqual([]);
  });
});

describe('compliance changes', () => {
  it.each([
    ['first assessment, non-compliant', undefined, { compliant: false, violations: ['agent-failed'] }, 'nonCompliant'],
    ['first assessment, compliant', undefined, { compliant: true, violations: [] }, undefined],
    ['compliant → non-compliant', { compliant: true, violations: [] }, { compliant: false, violations: ['agent-stale'] }, 'nonCompliant'],
    ['non-compliant → compliant', { compliant: false, violations: ['agent-stale'] }, { compliant: true, violations: [] }, 'recovered'],
    ['compliant → compliant', { compliant: true, violations: [] }, { compliant: true, violations: [] }, undefined],
    ['same violations', { compliant: false, violations: ['agent-stale'] }, { compliant: false, violations: ['agent-stale'] }, undefined],
    [
      'a violation gone',
      { compliant: false, violations: ['agent-stale', 'agent-failed'] },
      { compliant: false, violations: ['agent-stale'] },
      undefined,
    ],
    [
      'a new rule fires',
      { compliant: false, violations: ['agent-stale'] },
      { compliant: false, violations: ['agent-failed', 'agent-stale'] },
      'ruleFired',
    ],
  ] as const)('%s', (_name, previous, next, kind) => {
    const change = deviceChange(previous, next);
    expect(change?.kind).toBe(kind);
    if (change?.kind === 'ruleFired') expect(change.newRules).toEqual(['agent-failed']);
  });

  it('raises a sweep drop only beyond the threshold, immune to float noise', () => {
    expect(complianceDrop(0.95, 0.8, 10)).toBe(15);
    expect(complianceDrop(0.9, 0.8, 10)).toBeUndefined();
    expect(complianceDrop(0.3, 0.1, 20)).toBeUndefined();
    expect(complianceDrop(0.8, 0.9, 0)).toBeUndefined();
    expect(complianceDrop(0.5, 0.499, 0)).toBe(0.1);
  });
});

describe('CloudEvents', () => {
  it('builds the required and optional attributes of CloudEvents 1.0 with a deterministic id', () => {
    const make = () =>
      buildCloudEvent({
        idParts: ['sw-1', 'dev-1'],
        source: alertSource('MyHub.azure-devices.net'),
        type: ALERT_EVENT_TYPES.deviceNonCompliant,
        subject: 'dev-1',
        time: new Date(Date.UTC(2026, 11, 3, 2)),
        data: { deviceId: 'dev-1' },
      });
    const event = make();
    expect(event.id).toMatch(/^[0-9a-f]{32}$/);
    expect(event).toEqual({
      specversion: '1.0',
      id: event.id,
      source: '/twinguard/myhub.azure-devices.net',
      type: 'com.twinguard.device.noncompliant',
      subject: 'dev-1',
      time: '2026-12-03T02:00:00.000Z',
      datacontenttype: 'application/json',
      data: { deviceId: 'dev-1' },
    });
    expect(make().id).toBe(event.id);
    expect(alertEventId(['a', 'bc'])).not.toBe(alertEventId(['ab', 'c']));
    expect(
      buildCloudEvent({
        ...{ idParts: ['sw-2', 'dev-1'], source: 's', type: ALERT_EVENT_TYPES.deviceNonCompliant, time: new Date(0), data: {} },
      }).id,
    ).not.toBe(event.id);
  });

  it('signs the body with HMAC-SHA256 and verifies in constant time', () => {
    const body = '[{"id":"1"}]';
    const signature = signBody(body, 'a-secret-of-16-chars');
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(body, 'a-secret-of-16-chars', signature)).toBe(true);
    expect(verifySignature(`${body} `, 'a-secret-of-16-chars', signature)).toBe(false);
    expect(verifySignature(body, 'another-secret-16ch', signature)).toBe(false);
    expect(verifySignature(body, 'a-secret-of-16-chars', undefined)).toBe(false);
  });
});

describe('dispatch order and retries', () => {
  const row = (sequence: string, subject: string, nextAttemptAt = '2026-01-01T00:00:00.000Z', attempts = 0): OutboxRow => ({
    sequence,
    event: {
      specversion: '1.0',
      id: sequence,
      source: 's',
      type: ALERT_EVENT_TYPES.deviceRecovered,
      subject,
      time: '',
      datacontenttype: 'application/json',
      data: {},
    },
    status: 'pending',
    attempts,
    nextAttemptAt,
  });

  it('holds a device’s later events behind one waiting for its retry, others go on', () => {
    const rows = [row('1', 'a', '2030-01-01T00:00:00.000Z', 1), row('2', 'b'), row('3', 'a'), row('4', 'b')];
    expect(dueRows(rows, new Date('2026-06-01T00:00:00Z')).map((r) => r.sequence)).toEqual(['2', '4']);
  });

  it('batches by count and bytes, in order', () => {
    const rows = Array.from({ length: 5 }, (_, i) => row(String(i), 'd'));
    expect(batchesOf(rows, 2, 1_000_000).map((batch) => batch.map((r) => r.sequence))).toEqual([['0', '1'], ['2', '3'], ['4']]);
    const size = Buffer.byteLength(JSON.stringify(rows[0]?.event)) + 1;
    expect(batchesOf(rows, 100, 2 + 2 * size).map((batch) => batch.length)).toEqual([2, 2, 1]);
  });

  it('counts delivered and dead-lettered alerts off the dispatcher’s log line', () => {
    expect(metricsFromLog('alerts dispatched', { sink: 'webhook', sent: 3, batches: 1, retried: 2, deadLettered: 1 })).toEqual([
      { name: 'twinguard.alerts.delivered', value: 3, attributes: { sink: 'webhook' } },
      { name: 'twinguard.alerts.dead_lettered', value: 1, attributes: { sink: 'webhook' } },
    ]);
    expect(metricsFromLog('alerts dispatched', { sink: 'queue', sent: 0, retried: 4 })).toEqual([]);
  });

  it('backs off from 30 s, doubling to an hour, never below Retry-After', () => {
    expect([1, 2, 3, 8, 20].map((attempt) => retryDelayMs(attempt, undefined))).toEqual([30_000, 60_000, 120_000, 3_600_000, 3_600_000]);
    expect(retryDelayMs(1, 120_000)).toBe(120_000);
  });
});

describe('mitigation and alert settings', () => {
  const base = {
    IOTHUB_CONNECTION_STRING: 'HostName=hub.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey=a2V5',
    IOTHUB_EVENTS_CONNECTION: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=p;SharedAccessKey=a2V5;EntityPath=hub',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (error) {
      return [...(error as ConfigError).problems];
    }
  };

  it('defaults to no mitigation and no alerts', () => {
    const config = loadConfig(base);
    expect(config.mitigations).toMatchObject({
      allowDisruptive: false,
      quarantineTag: ['twinguard', 'quarantine'],
      auditTable: 'MitigationAudit',
    });
    expect(config.mitigations.rules.size).toBe(0);
    expect(config.alerts).toEqual({ sink: { kind: 'none' }, complianceDropPoints: 10, maxAttempts: 8, outboxTable: 'AlertOutbox' });
  });

  it('reads each sink and reports every problem at once, never quoting a secret', () => {
    expect(
      loadConfig({
        ...base,
        ALERT_SINK: 'webhook',
        ALERT_WEBHOOK_URL: 'https://hooks.example.com/tg',
        ALERT_WEBHOOK_SECRET: 'x'.repeat(16),
      }).alerts.sink,
    ).toEqual({
      kind: 'webhook',
      url: 'https://hooks.example.com/tg',
      secret: 'x'.repeat(16),
    });
    expect(
      loadConfig({ ...base, ALERT_SINK: 'eventGrid', ALERT_EVENTGRID_ENDPOINT: 'https://t.westeurope-1.eventgrid.azure.net/api/events' })
        .alerts.sink,
    ).toEqual({
      kind: 'eventGrid',
      endpoint: 'https://t.westeurope-1.eventgrid.azure.net/api/events',
    });
    expect(loadConfig({ ...base, ALERT_SINK: 'queue' }).alerts.sink).toEqual({ kind: 'queue', queueName: 'twinguard-alerts' });
    const found = problems({
      ALERT_SINK: 'webhook',
      ALERT_WEBHOOK_URL: 'http://hooks.example.com/tg?sig=abc',
      ALERT_WEBHOOK_SECRET: 'short-secret',
      SWEEP_MITIGATION_RULES: 'agent-failed:disableDevice',
      MITIGATION_QUARANTINE_TAG: 'bad tag',
      ALERT_MAX_ATTEMPTS: '0',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringContaining('ALERT_WEBHOOK_URL must be an https URL'),
        expect.stringContaining('ALERT_WEBHOOK_SECRET (at least 16 characters)'),
        expect.stringContaining('MITIGATION_ALLOW_DISRUPTIVE=true'),
        expect.stringContaining('MITIGATION_QUARANTINE_TAG'),
        expect.stringContaining('ALERT_MAX_ATTEMPTS'),
      ]),
    );
    expect(found.join(' ')).not.toContain('short-secret');
    expect(problems({ SWEEP_MITIGATION_RULES: '*:notify' })).toEqual([expect.stringContaining('needs an alert sink')]);
    expect(problems({ ALERT_SINK: 'pager' })).toEqual([expect.stringContaining('ALERT_SINK must be')]);
    expect(problems({ ALERT_SINK: 'eventGrid', ALERT_EVENTGRID_ENDPOINT: 'https://user:pw@t.example.net/api/events' })).toEqual([
      expect.stringContaining('must not carry credentials'),
    ]);
  });
});

import {
  activeSuppressions,
  evaluateDevice,
  matchSuppression,
  RULES,
  scopeOf,
  verdictFor,
  type RuleSettings,
  type SweepDevice,
  type SweepModule,
} from '../../shared/domain/compliance-rules';
import { parseCondition } from '../../shared/domain/iothub-query/twin-condition';

const NOW = new Date('2026-11-23T02:00:00Z');
const settings: RuleSettings = {
  moduleId: 'DefenderIotMicroAgent',
  schema: 'microAgent',
  baseline: { Process_MessageFrequency: 'Medium' },
  staleAgentHours: 24,
  inactiveModuleHours: 72,
  requiredModuleAuth: 'any',
};
const device = (over: Partial<SweepDevice> = {}): SweepDevice => ({
  deviceId: 'd1',
  status: 'enabled',
  iotEdge: false,
  authType: 'sas',
  tags: {},
  twin: { deviceId: 'd1', tags: {} },
  ...over,
});
const reported = (values: Record<string, unknown>, lastUpdated = '2026-11-23T01:00:00.0000000Z') => ({
  ...values,
  $metadata: { $lastUpdated: lastUpdated },
  $version: 2,
});
const healthy = (over: Partial<SweepModule> = {}): SweepModule => ({
  deviceId: 'd1',
  moduleId: 'DefenderIotMicroAgent',
  status: 'enabled',
  connectionState: 'Connected',
  lastActivityTime: '2026-11-23T01:59:00.0000000Z',
  authType: 'sas',
  desired: { Process_MessageFrequency: 'Medium', $version: 2 },
  reported: reported({ Process_MessageFrequency: 'Medium', latest_state: 'success', latest_invalid_fields: [] }),
  ...over,
});

describe('compliance rules', () => {
  it.each<[string, SweepDevice, SweepModule | undefined, Partial<RuleSettings>, string[]]>([
    ['healthy', device(), healthy(), {}, []],
    ['module missing', device(), undefined, {}, ['module-missing']],
    ['device disabled', device({ status: 'disabled' }), healthy(), {}, ['identity-disabled']],
    ['module disabled', device(), healthy({ status: 'disabled' }), {}, ['identity-disabled']],
    [
      'drifted',
      device(),
      healthy({ reported: reported({ Process_MessageFrequency: 'Low', latest_state: 'success' }) }),
      {},
      ['configuration-drift'],
    ],
    [
      'failed (not also drift)',
      device(),
      healthy({ reported: reported({ latest_state: 'failed', latest_invalid_fields: ['X_Disabled'] }) }),
      {},
      ['agent-failed'],
    ],
    [
      'baseline not applied',
      device(),
      healthy({
        desired: { Process_MessageFrequency: 'High' },
        reported: reported({ Process_MessageFrequency: 'High', latest_state: 'success' }),
      }),
      {},
      ['baseline-not-applied'],
    ],
    [
      'stale at 25 h',
      device(),
      healthy({ reported: reported({ Process_MessageFrequency: 'Medium' }, '2026-11-22T01:00:00Z') }),
      {},
      ['agent-stale'],
    ],
    [
      'not stale at 23 h',
      device(),
      healthy({ reported: reported({ Process_MessageFrequency: 'Medium' }, '2026-11-22T03:00:00Z') }),
      {},
      [],
    ],
    [
      'never reported',
      device(),
      healthy({ reported: { $metadata: { $lastUpdated: '0001-01-01T00:00:00Z' }, $version: 1 } }),
      {},
      ['agent-stale'],
    ],
    [
      'disconnected 100 h',
      device(),
      healthy({ connectionState: 'Disconnected', lastActivityTime: '2026-11-18T22:00:00Z' }),
      {},
      ['module-inactive'],
    ],
    ['disconnected 10 h', device(), healthy({ connectionState: 'Disconnected', lastActivityTime: '2026-11-22T16:00:00Z' }), {}, []],
    ['SAS under x509 policy', device(), healthy(), { requiredModuleAuth: 'x509' }, ['module-auth-weak']],
    ['CA under x509 policy', device(), healthy({ authType: 'certificateAuthority' }), { requiredModuleAuth: 'x509' }, []],
  ])('%s', (_name, d, m, over, expected) => {
    expect(evaluateDevice(d, m, { ...settings, ...over }, NOW).map((f) => f.ruleId)).toEqual(expected);
  });

  it('gives stable ids, severities and messages', () => {
    expect(
      RULES['agent-failed'](
        device(),
        healthy({ reported: reported({ latest_state: 'failed', latest_invalid_fields: 'A,B' }) }),
        settings,
        NOW,
      ),
    ).toEqual({
      ruleId: 'agent-failed',
      severity: 'high',
      message: 'agent reports latest_state=failed (invalid fields: A, B)',
    });
    expect(RULES['module-missing'](device(), undefined, settings, NOW)).toEqual({
      ruleId: 'module-missing',
      severity: 'critical',
      message: 'security module DefenderIotMicroAgent is missing on device d1',
    });
  });

  it.each<[string, SweepDevice, boolean, string | undefined, string]>([
    ['plain', device(), false, undefined, 'inScope'],
    ['edge without edge provisioning', device({ iotEdge: true }), false, undefined, 'edge'],
    ['edge with edge provisioning', device({ iotEdge: true }), true, undefined, 'inScope'],
    ['condition false', device({ twin: { tags: { env: 'dev' } } }), false, "tags.env = 'prod'", 'condition'],
    ['condition true', device({ twin: { tags: { env: 'prod' } } }), false, "tags.env = 'prod'", 'inScope'],
  ])('scope: %s', (_name, d, edge, condition, expected) => {
    expect(scopeOf(d, { provisionEdgeDevices: edge, targetCondition: condition ? parseCondition(condition) : undefined })).toBe(expected);
  });

  it('suppresses by device or selector until expiry, and never repairs a suppressed finding', () => {
    const lab = device({ deviceId: 'lab', twin: { deviceId: 'lab', tags: { site: 'lab' } } });
    const active = activeSuppressions(
      [
        { id: 'b-selector', ruleId: 'module-missing', selector: "tags.site = 'lab'", reason: 'r', createdAt: '2026-01-01T00:00:00Z' },
        { id: 'a-expired', ruleId: '*', deviceId: 'd1', reason: 'r', createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-11-23T01:59:59Z' },
        { id: 'c-device', ruleId: '*', deviceId: 'lab', reason: 'r', createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-11-24T00:00:00Z' },
      ],
      NOW,
    );
    expect(active.map((a) => a.suppression.id)).toEqual(['b-selector', 'c-device']);
    expect(matchSuppression(lab, 'module-missing', active)?.id).toBe('c-device');
    expect(matchSuppression(device(), 'module-missing', active)).toBeUndefined();
    const repairs = new Set(['module-missing', 'baseline-not-applied']);
    expect(verdictFor(lab, evaluateDevice(lab, undefined, settings, NOW), active, repairs)).toEqual({
      findings: [
        {
          ruleId: 'module-missing',
          severity: 'critical',
          message: 'security module DefenderIotMicroAgent is missing on device lab',
          status: 'suppressed',
          suppressionId: 'c-device',
        },
      ],
      compliant: true,
      repairs: [],
    });
    expect(verdictFor(device(), evaluateDevice(device(), undefined, settings, NOW), [], repairs).repairs).toEqual(['createModule']);
    expect(verdictFor(device(), evaluateDevice(device(), undefined, settings, NOW), [], new Set()).repairs).toEqual([]);
  });
});

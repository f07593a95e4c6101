import { applyEvent } from '../../shared/domain/posture';
import type { HubEvent, LatestPosture } from '../../shared/domain/types';

const MODULE = 'DefenderIotMicroAgent';

describe('sweep verdicts on the latest posture', () => {
  it('survive the twin changes processed between two sweeps', () => {
    const latest: LatestPosture = {
      deviceId: 'd1',
      moduleId: MODULE,
      modulePresent: true,
      deviceDeleted: false,
      reported: { latest_state: 'success' },
      reportedVersion: 4,
      twinVersion: 6,
      configurationState: 'inSync',
      driftedKeys: [],
      invalidFields: [],
      agentState: 'success',
      updatedAt: '2026-11-20T10:00:00.000Z',
      findings: [{ ruleId: 'agent-stale', severity: 'medium', status: 'violation', message: 'no report for 30 h' }],
      lastSweepId: 'sweep-20261120-0200',
      compliant: false,
    };
    const event: HubEvent = {
      kind: 'twinChanged',
      deviceId: 'd1',
      moduleId: MODULE,
      opType: 'updateTwin',
      body: {
        version: 7,
        properties: { reported: { latest_state: 'failed', $metadata: { $lastUpdated: '2026-11-20T11:00:00.0000000Z' }, $version: 5 } },
      },
      operationTime: new Date('2026-11-20T11:00:00Z'),
      position: { partitionId: '0', sequenceNumber: 9, offset: '900', enqueuedTime: new Date('2026-11-20T11:00:00.100Z') },
    };
    const step = applyEvent(latest, event, { securityModuleId: MODULE });
    expect(step.kind).toBe('applied');
    if (step.kind !== 'applied') return;
    expect(step.next).toMatchObject({
      agentState: 'failed',
      findings: latest.findings,
      lastSweepId: 'sweep-20261120-0200',
      compliant: false,
    });
  });
});

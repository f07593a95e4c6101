/** What applying mitigations needs: the registry writes, the audit, the alert outbox (notify) and the settings. */
import type { MitigationRules } from '../../domain/mitigations/mitigation-rules';
import type { DeviceMitigations } from '../../ports/device-mitigations';
import type { MitigationAuditStore } from '../../ports/mitigation-audit';
import type { AlertRecorder } from '../alerts/alert-recorder';

export interface MitigationSettings {
  rules: MitigationRules;
  allowDisruptive: boolean;
  quarantineTag: readonly string[];
  moduleId: string;
}

export interface MitigationServices {
  /** Held to the registry budget (every request takes a registry-operation token). */
  devices: DeviceMitigations;
  audit: MitigationAuditStore;
  /** Absent when ALERT_SINK=none: notify is then recorded as `noSink`. */
  alerts?: AlertRecorder;
  settings: MitigationSettings;
}

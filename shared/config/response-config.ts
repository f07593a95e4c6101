/** The validated settings of mitigations and compliance alerts (read by read-response-settings.ts). */
import type { MitigationRules } from '../domain/mitigations/mitigation-rules';

export interface MitigationConfig {
  /** SWEEP_MITIGATION_RULES parsed: rule id (or `*`) → actions. Empty: the sweep mitigates nothing. */
  readonly rules: MitigationRules;
  /** MITIGATION_ALLOW_DISRUPTIVE: disableModule / disableDevice may be applied (by the sweep or the API). */
  readonly allowDisruptive: boolean;
  /** MITIGATION_QUARANTINE_TAG split on dots: the device twin tag set to true, e.g. ['twinguard', 'quarantine']. */
  readonly quarantineTag: readonly string[];
  readonly auditTable: string;
}

export type AlertSinkConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'webhook'; readonly url: string; readonly secret: string }
  | { readonly kind: 'queue'; readonly queueName: string }
  | { readonly kind: 'eventGrid'; readonly endpoint: string; readonly key?: string };

export interface AlertConfig {
  readonly sink: AlertSinkConfig;
  /** ALERT_COMPLIANCE_DROP_POINTS: a sweep whose compliant share fell by more than this (0–100) is an alert. */
  readonly complianceDropPoints: number;
  /** ALERT_MAX_ATTEMPTS: delivery attempts before a batch's events are dead-lettered. */
  readonly maxAttempts: number;
  readonly outboxTable: string;
}

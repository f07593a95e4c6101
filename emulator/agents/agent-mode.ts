/**
 * How a simulated security agent behaves, per device:
 * - `healthy`: connects, applies the desired configuration and reports it;
 * - `rejectConfiguration`: connects and reports a failed configuration (the micro agent names the rejected keys);
 * - `silent`: stays connected but never reports (a hung agent: its reported properties go stale);
 * - `disconnected`: closes its MQTT connection (the module's `connectionState` and `lastActivityTime` go stale) and
 *   connects again, resynchronising its twin, once its mode changes back.
 */
export type AgentMode = 'healthy' | 'rejectConfiguration' | 'silent' | 'disconnected';

/** The modes in which an agent sends reported properties. */
export type ReportingMode = Extract<AgentMode, 'healthy' | 'rejectConfiguration'>;

export function isReportingMode(mode: AgentMode): mode is ReportingMode {
  return mode === 'healthy' || mode === 'rejectConfiguration';
}

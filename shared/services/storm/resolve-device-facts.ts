/**
 * Devices whose notification did not say how they authenticate or whether they are Edge devices (IoT Hub documents
 * the lifecycle body as the twin, but minimal bodies occur) are looked up in bulk: one projected query per 100
 * devices (`deviceId IN [...]`) instead of one registry call each, then decided by the per-device path's rules.
 */
import { decideDeferral, type DeferralDecision } from '../../domain/registration-storm';
import { queryString } from '../../domain/sweep-plan';
import type { JsonObject } from '../../domain/types';
import type { PendingProvisioning } from '../../ports/pending-provisioning-store';
import type { StormServices } from './storm-services';

const IDS_PER_QUERY = 100;

export type ResolvedFacts = DeferralDecision | { kind: 'deviceNotFound' };

export async function resolveDeviceFacts(
  rows: readonly PendingProvisioning[],
  services: StormServices,
): Promise<Map<string, ResolvedFacts>> {
  const resolved = new Map<string, ResolvedFacts>();
  const ids = [...new Set(rows.map((row) => row.deviceId))];
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const chunk = ids.slice(i, i + IDS_PER_QUERY);
    const query = `SELECT deviceId, capabilities, authenticationType FROM devices WHERE deviceId IN [${chunk.map(queryString).join(', ')}]`;
    const found = new Map<string, JsonObject>();
    let token: string | undefined;
    do {
      const page = await services.registry.queryTwins(query, IDS_PER_QUERY, token);
      for (const item of page.items) if (typeof item['deviceId'] === 'string') found.set(item['deviceId'], item);
      token = page.continuationToken;
    } while (token);
    for (const deviceId of chunk) {
      const facts = found.get(deviceId);
      // The target condition was evaluated on the notification twin when the row was recorded.
      const decision: ResolvedFacts = facts ? decideDeferral(facts, services.settings, false) : { kind: 'deviceNotFound' };
      // A row without the fields still cannot be decided: provision as the per-device path does for unknown types (SAS).
      resolved.set(deviceId, decision.kind === 'resolve' ? { kind: 'queue', authentication: { type: 'sas' } } : decision);
    }
  }
  return resolved;
}

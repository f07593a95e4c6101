/**
 * Trigger binding values resolved when a function module registers. Kept apart from loadConfig so registering a
 * function reads two settings and loads nothing else (cold start).
 */
import { parseConnectionString } from './connection-string';
import { readSetting as read, type Env } from './environment';
import { SETTING_DEFAULTS as DEFAULTS } from './settings-catalogue';

/**
 * The Event Hubs trigger's binding values, resolved when the function registers (the worker loads
 * the module with the app settings in its environment). Resolving here lets the consumer group
 * default to `twinguard` and the event hub name come from EntityPath, which a `%SETTING%` binding
 * expression could not do. Never throws: loadConfig reports bad values at first invocation.
 */
export function eventsTriggerBinding(env: Env): { eventHubName: string; consumerGroup: string } {
  const connection = read(env, 'IOTHUB_EVENTS_CONNECTION');
  const entityPath = connection ? parseConnectionString(connection).get('entitypath') : undefined;
  return {
    eventHubName: read(env, 'IOTHUB_EVENTS_NAME') ?? entityPath ?? '%IOTHUB_EVENTS_NAME%',
    consumerGroup: read(env, 'IOTHUB_EVENTS_CONSUMER_GROUP') ?? (DEFAULTS.get('IOTHUB_EVENTS_CONSUMER_GROUP') as string),
  };
}

/**
 * The compliance sweep triggers' binding values, resolved at registration like {@link eventsTriggerBinding} so an
 * unset setting falls back to its default instead of failing the host's `%SETTING%` resolution. Never throws.
 */
export function complianceTriggerBinding(env: Env): { schedule: string; queueName: string } {
  return {
    schedule: read(env, 'COMPLIANCE_SWEEP_SCHEDULE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_SCHEDULE') as string),
    queueName: read(env, 'COMPLIANCE_SWEEP_QUEUE') ?? (DEFAULTS.get('COMPLIANCE_SWEEP_QUEUE') as string),
  };
}

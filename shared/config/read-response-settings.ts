/**
 * Reads and validates the mitigation and alert settings (RESPONSE_SETTINGS), adding every problem to the reader's
 * list so loadConfig reports them with the others. Messages name settings, never a secret's value.
 */
import { parseMitigationRules } from '../domain/mitigations/mitigation-rules';
import { isQueueName } from '../domain/storage-names';
import { readSetting as read } from './environment';
import type { AlertConfig, AlertSinkConfig, MitigationConfig } from './response-config';
import type { SettingsReader } from './settings-reader';
import { SETTING_DEFAULTS } from './settings-catalogue';

const TAG_SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const MIN_SECRET_LENGTH = 16;

function defaultOf(name: string): string {
  return SETTING_DEFAULTS.get(name) ?? '';
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** An https URL without credentials (http only to loopback): secrets belong in headers, never in URLs. */
function endpointProblem(name: string, text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${name} must be an https URL`;
  }
  if (url.username !== '' || url.password !== '') return `${name} must not carry credentials; use its secret setting`;
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) return undefined;
  return `${name} must be an https URL (http only to a loopback address)`;
}

export function readMitigationSettings(reader: SettingsReader): MitigationConfig {
  const allowDisruptive = reader.boolean('MITIGATION_ALLOW_DISRUPTIVE');
  const rulesText = read(reader.env, 'SWEEP_MITIGATION_RULES') ?? defaultOf('SWEEP_MITIGATION_RULES');
  const { rules, problems } = parseMitigationRules(rulesText, allowDisruptive);
  reader.problems.push(...problems.map((problem) => `SWEEP_MITIGATION_RULES: ${problem}`));
  const tagText = read(reader.env, 'MITIGATION_QUARANTINE_TAG') ?? defaultOf('MITIGATION_QUARANTINE_TAG');
  const quarantineTag = tagText.replace(/^tags\./, '').split('.');
  if (quarantineTag.length > 5 || !quarantineTag.every((segment) => TAG_SEGMENT.test(segment)))
    reader.problems.push(
      `MITIGATION_QUARANTINE_TAG must be a dot-separated tag path of 1–5 names of letters, digits, _ and - (got "${tagText}")`,
    );
  const notifies = [...rules.values()].some((actions) => actions.includes('notify'));
  const sink = read(reader.env, 'ALERT_SINK') ?? defaultOf('ALERT_SINK');
  if (notifies && sink.toLowerCase() === 'none')
    reader.problems.push('SWEEP_MITIGATION_RULES uses notify, which needs an alert sink: set ALERT_SINK');
  return { rules, allowDisruptive, quarantineTag, auditTable: reader.tableName('MITIGATION_AUDIT_TABLE') };
}

function readSink(reader: SettingsReader, hostStorageSet: boolean): AlertSinkConfig {
  const kindText = read(reader.env, 'ALERT_SINK') ?? defaultOf('ALERT_SINK');
  const kind = kindText.toLowerCase();
  if (kind === 'none') return { kind: 'none' };
  if (kind === 'webhook') {
    const url = read(reader.env, 'ALERT_WEBHOOK_URL');
    const secret = read(reader.env, 'ALERT_WEBHOOK_SECRET');
    if (url === undefined) reader.problems.push('ALERT_WEBHOOK_URL is required with ALERT_SINK=webhook');
    else {
      const problem = endpointProblem('ALERT_WEBHOOK_URL', url);
      if (problem) reader.problems.push(problem);
    }
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH)
      reader.problems.push(`ALERT_WEBHOOK_SECRET (at least ${MIN_SECRET_LENGTH} characters) is required with ALERT_SINK=webhook`);
    return { kind: 'webhook', url: url ?? '', secret: secret ?? '' };
  }
  if (kind === 'queue') {
    const queueName = read(reader.env, 'ALERT_QUEUE_NAME') ?? defaultOf('ALERT_QUEUE_NAME');
    if (!isQueueName(queueName))
      reader.problems.push(
        `ALERT_QUEUE_NAME must be a queue name: 3–63 lower-case letters, digits and single hyphens (got "${queueName}")`,
      );
    if (!hostStorageSet) reader.problems.push('ALERT_SINK=queue needs AzureWebJobsStorage (the queue lives in that account)');
    return { kind: 'queue', queueName };
  }
  if (kind === 'eventgrid') {
    const endpoint = read(reader.env, 'ALERT_EVENTGRID_ENDPOINT');
    if (endpoint === undefined) reader.problems.push('ALERT_EVENTGRID_ENDPOINT is required with ALERT_SINK=eventGrid');
    else {
      const problem = endpointProblem('ALERT_EVENTGRID_ENDPOINT', endpoint);
      if (problem) reader.problems.push(problem);
    }
    const key = read(reader.env, 'ALERT_EVENTGRID_KEY');
    return key === undefined ? { kind: 'eventGrid', endpoint: endpoint ?? '' } : { kind: 'eventGrid', endpoint: endpoint ?? '', key };
  }
  reader.problems.push(`ALERT_SINK must be none, webhook, queue or eventGrid (got "${kindText}")`);
  return { kind: 'none' };
}

export function readAlertSettings(reader: SettingsReader, hostStorageSet: boolean): AlertConfig {
  return {
    sink: readSink(reader, hostStorageSet),
    complianceDropPoints: reader.integer('ALERT_COMPLIANCE_DROP_POINTS', 0, 100) as number,
    maxAttempts: reader.integer('ALERT_MAX_ATTEMPTS', 1, 50) as number,
    outboxTable: reader.tableName('ALERT_OUTBOX_TABLE'),
  };
}

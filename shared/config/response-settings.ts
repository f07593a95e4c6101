/** Catalogue rows of the mitigation and alert settings (spread into SETTINGS by settings-catalogue.ts). */
import type { SettingDefinition } from './settings-catalogue';

export const RESPONSE_SETTINGS: readonly SettingDefinition[] = [
  {
    name: 'SWEEP_MITIGATION_RULES',
    required: false,
    default: 'none',
    secret: false,
    description:
      'Mitigations the sweep applies per violated rule, as rule:action+action pairs separated by commas (rule `*` = every rule), e.g. agent-failed:quarantine+notify,module-auth-weak:notify. Actions: notify, quarantine, disableModule, disableDevice (the last two need MITIGATION_ALLOW_DISRUPTIVE). "none" mitigates nothing.',
  },
  {
    name: 'MITIGATION_ALLOW_DISRUPTIVE',
    required: false,
    default: 'false',
    secret: false,
    description:
      'Explicit opt-in (true/false/1/0) for the disruptive mitigations disableModule and disableDevice, which cut a security module or a whole device off the hub; without it they are rejected in SWEEP_MITIGATION_RULES and in POST /api/mitigations.',
  },
  {
    name: 'MITIGATION_QUARANTINE_TAG',
    required: false,
    default: 'twinguard.quarantine',
    secret: false,
    description:
      'Device twin tag path (dot-separated, under tags) that the quarantine mitigation sets to true, for routing and policies to act on.',
  },
  {
    name: 'MITIGATION_AUDIT_TABLE',
    required: false,
    default: 'MitigationAudit',
    secret: false,
    description: 'Table of every mitigation applied (who, when, sweep, device, action, result).',
  },
  {
    name: 'ALERT_SINK',
    required: false,
    default: 'none',
    secret: false,
    description:
      'Where compliance alerts (CloudEvents 1.0) go: none, webhook (ALERT_WEBHOOK_*), queue (ALERT_QUEUE_NAME in AzureWebJobsStorage) or eventGrid (ALERT_EVENTGRID_*).',
  },
  {
    name: 'ALERT_WEBHOOK_URL',
    required: false,
    // Receivers often carry an access token in the path or query: the URL is shown redacted, and errors name its host only.
    secret: true,
    description:
      'HTTPS URL the webhook sink POSTs event batches to (http only to a loopback address, for tests). Required with ALERT_SINK=webhook.',
  },
  {
    name: 'ALERT_WEBHOOK_SECRET',
    required: false,
    secret: true,
    description:
      'Key of the HMAC-SHA256 body signature (X-TwinGuard-Signature: sha256=<hex>), at least 16 characters. Required with ALERT_SINK=webhook.',
  },
  {
    name: 'ALERT_QUEUE_NAME',
    required: false,
    default: 'twinguard-alerts',
    secret: false,
    description: 'Storage queue (in AzureWebJobsStorage) the queue sink writes event batches to.',
  },
  {
    name: 'ALERT_EVENTGRID_ENDPOINT',
    required: false,
    secret: false,
    description:
      'Event Grid custom topic endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events), CloudEvents schema. Required with ALERT_SINK=eventGrid.',
  },
  {
    name: 'ALERT_EVENTGRID_KEY',
    required: false,
    secret: true,
    description:
      'Access key of the Event Grid topic; when absent the managed identity (DefaultAzureCredential, role EventGrid Data Sender) is used.',
  },
  {
    name: 'ALERT_COMPLIANCE_DROP_POINTS',
    required: false,
    default: '10',
    secret: false,
    description:
      "A sweep whose compliant share is more than this many percentage points below the previous sweep's raises an alert (0–100).",
  },
  {
    name: 'ALERT_MAX_ATTEMPTS',
    required: false,
    default: '8',
    secret: false,
    description:
      'Delivery attempts of an alert batch (backoff doubling from 30 s, at least what Retry-After asks) before its events are dead-lettered in the outbox (1–50).',
  },
  {
    name: 'ALERT_OUTBOX_TABLE',
    required: false,
    default: 'AlertOutbox',
    secret: false,
    description: 'Table of alerts waiting for delivery, delivered (kept 7 days, for deduplication) and dead-lettered.',
  },
];

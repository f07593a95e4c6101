/**
 * AlertSink over an Event Grid custom topic in the CloudEvents 1.0 schema, through @azure/eventgrid's
 * EventGridPublisherClient (one publish per batch; a topic accepts up to 1 MB per request). Key (`aeg-sas-key`) or
 * managed identity (Entra ID, role EventGrid Data Sender). The SDK's retry is off: the dispatcher is the one owner
 * of retries and backoff.
 */
import { AzureKeyCredential, EventGridPublisherClient, type SendCloudEventInput } from '@azure/eventgrid';
import { DefaultAzureCredential } from '@azure/identity';
import type { CloudEvent } from '../domain/alerts/cloud-event';
import type { AlertSink } from '../ports/alert-sink';
import { outboundTimeoutPolicy } from './outbound-timeout-policy';

export interface EventGridAlertSinkOptions {
  endpoint: string;
  /** Topic access key; absent: DefaultAzureCredential. */
  key?: string;
  timeoutMs: number;
}

export class EventGridAlertSink implements AlertSink {
  readonly kind = 'eventGrid' as const;
  readonly maxBatchEvents = 100;
  readonly maxBatchBytes = 900 * 1024;
  private readonly client: EventGridPublisherClient<'CloudEvent'>;

  constructor(options: EventGridAlertSinkOptions) {
    const credential = options.key !== undefined ? new AzureKeyCredential(options.key) : new DefaultAzureCredential();
    this.client = new EventGridPublisherClient(options.endpoint, 'CloudEvent', credential, {
      retryOptions: { maxRetries: 0 },
      allowInsecureConnection: options.endpoint.startsWith('http://'),
      additionalPolicies: [{ policy: outboundTimeoutPolicy(options.timeoutMs, 'event grid topic'), position: 'perRetry' }],
    });
  }

  async send(events: readonly CloudEvent[]): Promise<void> {
    const inputs: SendCloudEventInput<unknown>[] = events.map((event) => ({
      type: event.type,
      source: event.source,
      id: event.id,
      time: new Date(event.time),
      subject: event.subject,
      datacontenttype: event.datacontenttype,
      data: event.data,
    }));
    await this.client.send(inputs);
  }
}

/**
 * CloudEvents 1.0 (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md, JSON format in
 * formats/json-format.md): the envelope of every alert TwinGuard publishes. Required attributes: specversion "1.0",
 * id (unique per source; consumers deduplicate on source + id), source (URI-reference), type; optional ones used here:
 * subject, time (RFC 3339), datacontenttype. Ids are derived from what the event is about, never random, so an
 * event recomputed after a crash or a redelivered sweep message has the id of the first computation.
 */
import { createHash } from 'node:crypto';

export const ALERT_EVENT_TYPES = {
  deviceNonCompliant: 'com.twinguard.device.noncompliant',
  deviceRecovered: 'com.twinguard.device.recovered',
  deviceRuleFired: 'com.twinguard.device.rulefired',
  sweepComplianceDropped: 'com.twinguard.sweep.compliancedropped',
  mitigationNotify: 'com.twinguard.mitigation.notify',
} as const;

export type AlertEventType = (typeof ALERT_EVENT_TYPES)[keyof typeof ALERT_EVENT_TYPES];

/** Media type of one event in structured mode and of a batch (formats/json-format.md §4). */
export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const CLOUDEVENT_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

export interface CloudEvent<T = Record<string, unknown>> {
  specversion: '1.0';
  id: string;
  source: string;
  type: AlertEventType;
  subject?: string;
  /** RFC 3339 UTC. */
  time: string;
  datacontenttype: 'application/json';
  data: T;
}

/** A stable id from the parts that identify the event (e.g. sweep id, device id, type): 32 hex digits. */
export function alertEventId(parts: readonly string[]): string {
  // NUL cannot occur in device ids, sweep ids or type names, so different part lists never hash alike.
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** The source of TwinGuard's events for one hub: `/twinguard/<hub host name>`. */
export function alertSource(hubHostName: string): string {
  return `/twinguard/${encodeURIComponent(hubHostName.toLowerCase())}`;
}

export function buildCloudEvent<T extends Record<string, unknown>>(fields: {
  idParts: readonly string[];
  source: string;
  type: AlertEventType;
  subject?: string;
  time: Date;
  data: T;
}): CloudEvent<T> {
  const event: CloudEvent<T> = {
    specversion: '1.0',
    id: alertEventId([fields.type, ...fields.idParts]),
    source: fields.source,
    type: fields.type,
    time: fields.time.toISOString(),
    datacontenttype: 'application/json',
    data: fields.data,
  };
  if (fields.subject !== undefined) event.subject = fields.subject;
  return event;
}

/**
 * A stored automatic configuration and its REST shape, as azure-iothub 1.16 `Registry.getConfiguration` returns it
 * (dist/configuration.d.ts: id, schemaVersion, labels, content, targetCondition, createdTimeUtc, lastUpdatedTimeUtc,
 * priority, systemMetrics, metrics, etag). System metric queries follow the hub's own (REST sample in MicrosoftDocs
 * azure-docs iot-hub-arduino-iot-devkit-az3166-devkit-ota.md: `"appliedCount": "select deviceId from devices where
 * configurations.[[firmware-update]].status = 'Applied'"`, and `""` for an empty target condition).
 */
import type { QueryCollection } from '../../shared/domain/iothub-query/parse-query';
import type { JsonObject } from '../../shared/domain/types';

export type ConfigurationKind = 'device' | 'module' | 'edge';

export interface ConfigurationRecord {
  id: string;
  schemaVersion: string;
  labels: Record<string, string>;
  content: { deviceContent?: JsonObject; moduleContent?: JsonObject; modulesContent?: JsonObject };
  kind: ConfigurationKind;
  targetCondition: string;
  /** The collection the target condition reads (module configurations: devices.modules). */
  collection: QueryCollection;
  priority: number;
  createdTimeUtc: string;
  lastUpdatedTimeUtc: string;
  etag: string;
  metricQueries: Record<string, string>;
  metricResults: Record<string, number>;
  targetedCount: number;
  appliedCount: number;
}

/** The hub's system metric queries for a configuration. */
export function systemMetricQueries(record: ConfigurationRecord): { targetedCount: string; appliedCount: string } {
  const select =
    record.collection === 'devices.modules' ? 'select deviceId, moduleId from devices.modules' : 'select deviceId from devices';
  const condition = record.targetCondition.trim();
  let targeted = '';
  if (condition === '*') targeted = select;
  else if (/^from\s/i.test(condition))
    targeted = `select ${record.collection === 'devices.modules' ? 'deviceId, moduleId' : 'deviceId'} ${condition}`;
  else if (condition !== '') targeted = `${select} where ${condition}`;
  return { targetedCount: targeted, appliedCount: `${select} where configurations.[[${record.id}]].status = 'Applied'` };
}

export function configurationJson(record: ConfigurationRecord): JsonObject {
  return {
    id: record.id,
    schemaVersion: record.schemaVersion,
    labels: { ...record.labels },
    content: structuredClone(record.content),
    targetCondition: record.targetCondition,
    createdTimeUtc: record.createdTimeUtc,
    lastUpdatedTimeUtc: record.lastUpdatedTimeUtc,
    priority: record.priority,
    systemMetrics: {
      results: { targetedCount: record.targetedCount, appliedCount: record.appliedCount },
      queries: systemMetricQueries(record),
    },
    metrics: { results: { ...record.metricResults }, queries: { ...record.metricQueries } },
    etag: record.etag,
  };
}

/**
 * The hub's automatic configurations: create, read, update, delete with the hub's rules. PUT without If-Match
 * creates (an existing id → 409), with If-Match updates (`*` forces, a stale etag → 412), as azure-iothub 1.16
 * `addConfiguration` / `updateConfiguration(config, force)` send them (dist/registry.js). After creation only
 * `targetCondition`, `priority`, `labels` and `metrics` change; content is immutable ("Configuration content is
 * immutable. Configuration properties that can be updated are 'labels', 'metrics', 'priority' and
 * 'targetCondition'", Set-AzIotHubConfiguration, learn.microsoft.com/powershell/module/az.iothub). At most 100 per
 * hub (standard tier; learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-management-cli).
 */
import { etagMatches, identityEtag } from '../registry/etag';
import { HubError, preconditionFailed } from '../registry/hub-error';
import { hubTimestamp } from '../registry/hub-timestamp';
import type { ConfigurationRecord } from './configuration-record';
import { assertConfigurationId, parseConfiguration } from './parse-configuration';

export const MAX_CONFIGURATIONS = 100;

/** Persisted form: the records plus the etag counter, so etags keep growing across restarts. */
export interface ConfigurationsSnapshot {
  etagCounter: string;
  records: ConfigurationRecord[];
}

function notFound(id: string): HubError {
  return new HubError(404, 'ConfigurationNotFound', `Configuration ${id} not found`);
}

/** JSON with sorted keys: content equality must not depend on the order a client serialized keys in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonical(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export class ConfigurationStore {
  private readonly records = new Map<string, ConfigurationRecord>();
  private etagCounter = 0n;
  private lastCreatedMs = 0;

  constructor(
    private readonly now: () => Date = () => new Date(),
    private readonly maxConfigurations = MAX_CONFIGURATIONS,
  ) {}

  /** Creates (no If-Match) or updates (If-Match) the configuration `id`. @throws HubError 400/404/409/412/403. */
  put(id: string, body: unknown, ifMatch: string | undefined): ConfigurationRecord {
    const input = parseConfiguration(id, body);
    const existing = this.records.get(id);
    const time = hubTimestamp(this.now());
    if (ifMatch === undefined || ifMatch === '') {
      if (existing) throw new HubError(409, 'ConfigurationAlreadyExists', `Configuration ${id} already exists`);
      if (this.records.size >= this.maxConfigurations)
        throw new HubError(
          403,
          'IotHubQuotaExceeded',
          `The hub already has ${this.maxConfigurations} configurations, the maximum for its tier`,
        );
      const record: ConfigurationRecord = {
        ...input,
        createdTimeUtc: this.createdTime(),
        lastUpdatedTimeUtc: time,
        etag: this.nextEtag(),
        metricResults: Object.fromEntries(Object.keys(input.metricQueries).map((name) => [name, 0])),
        targetedCount: 0,
        appliedCount: 0,
      };
      this.records.set(id, record);
      return record;
    }
    if (!existing) throw notFound(id);
    if (!etagMatches(ifMatch, existing.etag)) throw preconditionFailed();
    if (canonical(input.content) !== canonical(existing.content))
      throw new HubError(400, 'ArgumentInvalid', `The content of configuration ${id} cannot be changed after creation`);
    if (input.collection !== existing.collection)
      throw new HubError(400, 'ArgumentInvalid', `targetCondition of configuration ${id} must keep reading ${existing.collection}`);
    existing.targetCondition = input.targetCondition;
    existing.priority = input.priority;
    existing.labels = input.labels;
    existing.metricQueries = input.metricQueries;
    existing.metricResults = Object.fromEntries(Object.keys(input.metricQueries).map((name) => [name, existing.metricResults[name] ?? 0]));
    existing.lastUpdatedTimeUtc = time;
    existing.etag = this.nextEtag();
    return existing;
  }

  /** @throws HubError 404 ConfigurationNotFound. */
  get(id: string): ConfigurationRecord {
    assertConfigurationId(id);
    const record = this.records.get(id);
    if (!record) throw notFound(id);
    return record;
  }

  /** In creation order. */
  list(): ConfigurationRecord[] {
    return [...this.records.values()];
  }

  /** @throws HubError 404 / 412. */
  delete(id: string, ifMatch: string | undefined): void {
    const record = this.get(id);
    if (!etagMatches(ifMatch, record.etag)) throw preconditionFailed();
    this.records.delete(id);
  }

  get size(): number {
    return this.records.size;
  }

  snapshot(): ConfigurationsSnapshot {
    return { etagCounter: this.etagCounter.toString(), records: this.list().map((record) => structuredClone(record)) };
  }

  restore(snapshot: ConfigurationsSnapshot): void {
    this.records.clear();
    for (const record of snapshot.records) this.records.set(record.id, structuredClone(record));
    this.etagCounter = BigInt(snapshot.etagCounter);
    this.lastCreatedMs = Math.max(0, ...snapshot.records.map((record) => Date.parse(record.createdTimeUtc) || 0));
  }

  private nextEtag(): string {
    this.etagCounter += 1n;
    return identityEtag(this.etagCounter);
  }

  /** Strictly increasing creation times: ties on priority are broken by creation time, so two must never be equal. */
  private createdTime(): string {
    const ms = Math.max(this.now().getTime(), this.lastCreatedMs + 1);
    this.lastCreatedMs = ms;
    return hubTimestamp(new Date(ms));
  }
}

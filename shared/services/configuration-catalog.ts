/**
 * The hub's automatic configurations, read through the DeviceRegistry port and ranked once, then reused: per sweep
 * (one read per sweep and worker, whatever the number of buckets and devices) and, for the event path, for
 * `ttlMs` (default 60 s), because IoT Hub throttles configuration operations to 20/min/unit
 * (/work/shared/reference/limits.md, "Configurations / edge deployments"; learn.microsoft.com/azure/iot-hub/
 * iot-hub-devguide-quotas-throttling) and a burst of device creations must not read them once per device.
 */
import { rankConfigurations, type RankedConfiguration } from '../domain/configurations/winning-configuration';
import type { DeviceRegistry } from '../ports/device-registry';

export interface ConfigurationCatalogOptions {
  now: () => Date;
  /** How long the event path reuses a read (default 60,000 ms). */
  ttlMs?: number;
}

export class ConfigurationCatalog {
  private sweep: { sweepId: string; ranked: Promise<RankedConfiguration[]> } | undefined;
  private recent: { readAt: number; ranked: Promise<RankedConfiguration[]> } | undefined;
  private readonly ttlMs: number;

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly options: ConfigurationCatalogOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
  }

  /** The ranked configurations for sweep `sweepId`: read on its first call, reused after. */
  forSweep(sweepId: string): Promise<RankedConfiguration[]> {
    if (this.sweep?.sweepId !== sweepId) this.sweep = { sweepId, ranked: this.read() };
    const entry = this.sweep;
    return entry.ranked.catch((error: unknown) => {
      // A failed read is not kept: the redelivered message reads again.
      if (this.sweep === entry) this.sweep = undefined;
      throw error;
    });
  }

  /** The ranked configurations as of at most `ttlMs` ago. */
  current(): Promise<RankedConfiguration[]> {
    const now = this.options.now().getTime();
    if (!this.recent || now - this.recent.readAt > this.ttlMs) this.recent = { readAt: now, ranked: this.read() };
    const entry = this.recent;
    return entry.ranked.catch((error: unknown) => {
      if (this.recent === entry) this.recent = undefined;
      throw error;
    });
  }

  private async read(): Promise<RankedConfiguration[]> {
    return rankConfigurations(await this.registry.listConfigurations()).ranked;
  }
}

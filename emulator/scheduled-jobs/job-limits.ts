/**
 * Scheduled-job limits per IoT Hub tier, from https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling
 * (copied in /work/shared/reference/limits.md B3): concurrent jobs 1 (Free/S1), 5 (S2), 10 (S3); jobs device operations
 * (a twin update or method call a job makes on one device) 10/s (S1), max(10/s, 1/s/unit) (S2), 50/s/unit (S3).
 */
import type { HubTier } from '../faults';

export interface JobLimits {
  maxConcurrentJobs: number;
  deviceOperationsPerSecond: number;
}

export function jobLimitsForTier(tier: HubTier, units = 1): JobLimits {
  if (!Number.isFinite(units) || units < 1) throw new RangeError(`units must be ≥ 1, got ${units}`);
  switch (tier) {
    case 'S1':
      return { maxConcurrentJobs: 1, deviceOperationsPerSecond: 10 };
    case 'S2':
      return { maxConcurrentJobs: 5, deviceOperationsPerSecond: Math.max(10, units) };
    case 'S3':
      return { maxConcurrentJobs: 10, deviceOperationsPerSecond: 50 * units };
  }
}

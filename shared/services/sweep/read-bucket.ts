import type { SweepDevice, SweepModule } from '../../domain/compliance-rules';
import {
  conditionReadsProperties,
  devicesQuery,
  modulesQuery,
  toSweepDevice,
  toSweepModule,
  type BucketRange,
} from '../../domain/sweep-plan';
import { allPages } from './registry-pages';
import type { SweepServices } from './sweep-services';

export interface BucketRows {
  devices: SweepDevice[];
  modules: Map<string, SweepModule>;
}

/** The devices of one bucket and their security modules, read page by page. */
export async function readBucket(range: BucketRange, services: SweepServices): Promise<BucketRows> {
  const settings = services.settings;
  const devices: SweepDevice[] = [];
  const withProperties = conditionReadsProperties(settings.targetCondition?.text);
  await allPages(services.registry, devicesQuery(range, withProperties), settings.pageSize, (rows) => {
    for (const row of rows) {
      const device = toSweepDevice(row);
      if (device) devices.push(device);
    }
  });
  const modules = new Map<string, SweepModule>();
  await allPages(services.registry, modulesQuery(settings.rules.moduleId, range), settings.pageSize, (rows) => {
    for (const row of rows) {
      const module = toSweepModule(row);
      if (module) modules.set(module.deviceId, module);
    }
  });
  return { devices, modules };
}

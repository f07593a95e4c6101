import type { ManagingConfiguration } from '../../domain/configurations/managing-configuration';
import type { DeviceVerdict, RepairAction, SweepDevice, SweepModule } from '../../domain/compliance-rules';

/** One in-scope device of a bucket as the sweep assessed it, with the results of the repairs made for it. */
export interface Evaluated {
  device: SweepDevice;
  module?: SweepModule;
  verdict: DeviceVerdict;
  repairResults: Map<RepairAction, string>;
  /** The automatic configuration that manages (or, for a missing module, would manage) the security module. */
  managedBy?: ManagingConfiguration;
}

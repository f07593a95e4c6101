/**
 * The registry writes behind mitigations. Real adapter: shared/adapters/iothub-device-mitigations.ts (azure-iothub).
 * Every method is idempotent: it reads first and answers `alreadyApplied` without writing when the state is there.
 */
export type MitigationOutcome = 'applied' | 'alreadyApplied' | 'deviceNotFound' | 'moduleNotFound' | 'unsupported';

export interface DeviceMitigations {
  /** Sets the tag at `tagPath` (e.g. ['twinguard', 'quarantine']) to true on the device twin. */
  quarantine(deviceId: string, tagPath: readonly string[]): Promise<MitigationOutcome>;
  /**
   * Cuts the security module off the hub. Module identities have no enabled/disabled status in IoT Hub, so a SAS
   * module's keys are replaced by random ones nobody keeps (the agent can no longer connect until an operator
   * regenerates them) and the module twin is tagged `twinguard.moduleDisabled`; X.509 modules are `unsupported`.
   */
  disableModule(deviceId: string, moduleId: string): Promise<MitigationOutcome>;
  /** Sets the device's status to disabled (it can no longer connect), with `reason` as its statusReason. */
  disableDevice(deviceId: string, reason: string): Promise<MitigationOutcome>;
}

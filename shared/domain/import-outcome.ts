/**
 * What a finished bulk import job means for one device whose module line it was given, pure. IoT Hub writes one
 * `importErrors.log` line per rejected input line (`deviceId`, `errorCode`, `errorStatus`); a line it accepted has no
 * output. So a device named in the log failed with that line's error, every other device was created — unless the
 * log has lines that name no device (a line the service could not parse), in which case the others are unconfirmed.
 */
export interface FinishedImport {
  /** The job itself failed or was cancelled: no line can be assumed applied. */
  jobFailed: boolean;
  failureReason?: string;
  /** deviceId → the error of its rejected line. */
  errors: ReadonlyMap<string, string>;
  /** Error lines that named no device. */
  unattributedErrors: number;
}

export interface ImportOutcome {
  repairResult: 'created' | 'failed' | 'importUnconfirmed';
  repairError?: string;
}

/** Longest error text kept on a finding row. */
export const MAX_REPAIR_ERROR_CHARS = 500;

export function importOutcome(deviceId: string, job: FinishedImport): ImportOutcome {
  if (job.jobFailed) return { repairResult: 'failed', repairError: clip(`import job failed: ${job.failureReason ?? 'no reason given'}`) };
  const error = job.errors.get(deviceId);
  if (error !== undefined) return { repairResult: 'failed', repairError: clip(error) };
  if (job.unattributedErrors > 0) {
    return {
      repairResult: 'importUnconfirmed',
      repairError: `the import job rejected ${job.unattributedErrors} line(s) without naming their device`,
    };
  }
  return { repairResult: 'created' };
}

function clip(text: string): string {
  return text.length <= MAX_REPAIR_ERROR_CHARS ? text : `${text.slice(0, MAX_REPAIR_ERROR_CHARS - 1)}…`;
}

/** Who applied which mitigation when, and with what result. Real adapter: shared/adapters/table-mitigation-audit.ts. */
export interface MitigationAuditEntry {
  /** ISO. For a sweep: the sweep's start, so a redone bucket overwrites its own entries. */
  at: string;
  /** The function key's name (`key:default`), a fingerprint of a key whose name the host does not pass, or `sweep`. */
  who: string;
  source: 'sweep' | 'api';
  /** The sweep id, or the API request's invocation id. */
  requestId: string;
  sweepId: string;
  deviceId: string;
  action: string;
  result: string;
  ruleIds: string[];
  dryRun: boolean;
}

export interface MitigationAuditStore {
  record(entries: readonly MitigationAuditEntry[]): Promise<void>;
  /** Newest first within the month (`yyyymm`, UTC); `after` continues from the token of the previous page. */
  list(query: { month: string; limit: number; after?: string }): Promise<{ entries: MitigationAuditEntry[]; next?: string }>;
}

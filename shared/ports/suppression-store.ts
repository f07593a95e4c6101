/** Operator suppressions of findings. Real adapter: shared/adapters/table-suppression-store.ts. */
import type { Suppression } from '../domain/compliance-rules';

export interface SuppressionStore {
  list(): Promise<Suppression[]>;
  get(id: string): Promise<Suppression | undefined>;
  put(suppression: Suppression): Promise<void>;
  /** False when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
}

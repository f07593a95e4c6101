/** In-memory SuppressionStore (handler tests, the benchmark). */
import type { Suppression } from '../../domain/compliance-rules';
import type { SuppressionStore } from '../../ports/suppression-store';
import { settle } from './settle';

export class MemorySuppressionStore implements SuppressionStore {
  private readonly items = new Map<string, Suppression>();

  list(): Promise<Suppression[]> {
    return settle(() => [...this.items.values()].map((item) => structuredClone(item)));
  }

  get(id: string): Promise<Suppression | undefined> {
    return settle(() => {
      const item = this.items.get(id);
      return item && structuredClone(item);
    });
  }

  put(suppression: Suppression): Promise<void> {
    return settle(() => {
      this.items.set(suppression.id, structuredClone(suppression));
    });
  }

  delete(id: string): Promise<boolean> {
    return settle(() => this.items.delete(id));
  }
}

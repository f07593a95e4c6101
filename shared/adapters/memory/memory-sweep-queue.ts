/** In-memory SweepQueue with Storage Queue redelivery semantics (handler tests, the benchmark). */
import type { SweepMessage, SweepQueue } from '../../ports/sweep-queue';
import { settle } from './settle';

/** A queue whose messages the caller drains explicitly (`drain` runs a handler until the queue is empty). */
export class MemorySweepQueue implements SweepQueue {
  readonly messages: SweepMessage[] = [];

  send(message: SweepMessage): Promise<void> {
    return settle(() => {
      this.messages.push(structuredClone(message));
    });
  }

  /**
   * Delivers messages until none are left; a handler that throws gets its message redelivered (at the end), as a
   * Storage Queue would after the visibility timeout, up to `maxDeliveries` times.
   */
  async drain(handler: (message: SweepMessage, deliveryCount: number) => Promise<void>, maxDeliveries = 5): Promise<number> {
    const deliveries = new Map<SweepMessage, number>();
    let handled = 0;
    for (let message = this.messages.shift(); message !== undefined; message = this.messages.shift()) {
      const count = (deliveries.get(message) ?? 0) + 1;
      deliveries.set(message, count);
      try {
        await handler(message, count);
        handled += 1;
      } catch (error) {
        if (count >= maxDeliveries) throw error;
        this.messages.push(message);
      }
    }
    return handled;
  }
}

/**
 * One partition's append-only event log. Each event is stored already encoded (broker annotations
 * included), so delivering it to any number of consumers is a buffer write, never a re-encode.
 * Offsets are cumulative byte positions: an event's offset is the total encoded size of every event
 * appended before it, so offsets grow strictly and a checkpointed offset names exactly one event.
 */

/** An event as stored and delivered. */
export interface StoredEvent {
  readonly sequenceNumber: number;
  readonly offset: number;
  readonly enqueuedTimeMs: number;
  readonly encoded: Buffer;
}

/** Where a reader starts, parsed from a receiver link's selector filter. */
export type StartPosition =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: number; inclusive: boolean }
  | { kind: 'sequenceNumber'; sequenceNumber: number; inclusive: boolean }
  | { kind: 'enqueuedTime'; afterMs: number };

/** Receives a callback whenever events are appended, so readers are pushed to rather than polling. */
export type AppendListener = () => void;

export class PartitionLog {
  private readonly events: StoredEvent[] = [];
  /** Index in `events` of the oldest retained event; evicted slots are compacted lazily. */
  private head = 0;
  private nextSequenceNumber = 0;
  private nextOffset = 0;
  private lastEnqueuedTimeMs = 0;
  private readonly listeners = new Set<AppendListener>();

  /**
   * @param retention - maximum events kept; the oldest are evicted beyond it (must be ≥ 1).
   */
  constructor(
    readonly partitionId: string,
    private readonly retention: number,
  ) {}

  /**
   * Appends one event. `encode` receives the broker-assigned position and returns the final bytes; it
   * runs exactly once per event. Enqueued times never go backwards, so enqueued-time filters can
   * binary-search.
   */
  append(encode: (position: { sequenceNumber: number; offset: number; enqueuedTime: Date }) => Buffer): StoredEvent {
    this.lastEnqueuedTimeMs = Math.max(Date.now(), this.lastEnqueuedTimeMs);
    const sequenceNumber = this.nextSequenceNumber;
    const offset = this.nextOffset;
    const encoded = encode({ sequenceNumber, offset, enqueuedTime: new Date(this.lastEnqueuedTimeMs) });
    const event: StoredEvent = { sequenceNumber, offset, enqueuedTimeMs: this.lastEnqueuedTimeMs, encoded };
    this.events.push(event);
    this.nextSequenceNumber += 1;
    this.nextOffset += encoded.length;
    if (this.events.length - this.head > this.retention) this.evictOldest();
    for (const listener of this.listeners) listener();
    return event;
  }

  /** Sequence number of the oldest retained event (the next one to be written when empty). */
  get beginSequenceNumber(): number {
    return this.events[this.head]?.sequenceNumber ?? this.nextSequenceNumber;
  }

  /** -1 before the first append, as Event Hubs reports it. */
  get lastSequenceNumber(): number {
    return this.nextSequenceNumber - 1;
  }

  get lastEvent(): StoredEvent | undefined {
    return this.events.length > this.head ? this.events[this.events.length - 1] : undefined;
  }

  get isEmpty(): boolean {
    return this.events.length === this.head;
  }

  /** The retained event with this sequence number, if any. */
  eventAt(sequenceNumber: number): StoredEvent | undefined {
    const first = this.events[this.head];
    if (first === undefined) return undefined;
    return this.events[this.head + (sequenceNumber - first.sequenceNumber)];
  }

  /**
   * Sequence number of the first event a reader starting at `position` receives. May be past the last
   * event (the reader then waits for new ones). Positions before retention start at the oldest event.
   */
  firstSequenceNumberFor(position: StartPosition): number {
    switch (position.kind) {
      case 'earliest':
        return this.beginSequenceNumber;
      case 'latest':
        return this.nextSequenceNumber;
      case 'sequenceNumber':
        return Math.max(this.beginSequenceNumber, position.inclusive ? position.sequenceNumber : position.sequenceNumber + 1);
      case 'offset':
        return this.firstWhere((event) => (position.inclusive ? event.offset >= position.offset : event.offset > position.offset));
      case 'enqueuedTime':
        return this.firstWhere((event) => event.enqueuedTimeMs > position.afterMs);
    }
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Binary search over retained events for a predicate that is false then true along the log. */
  private firstWhere(matches: (event: StoredEvent) => boolean): number {
    let low = this.head;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const event = this.events[middle];
      if (event !== undefined && matches(event)) high = middle;
      else low = middle + 1;
    }
    return this.events[low]?.sequenceNumber ?? this.nextSequenceNumber;
  }

  private evictOldest(): void {
    this.head += 1;
    // Compacting only when half the array is dead keeps eviction amortised O(1).
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
  }
}

const SELECTOR_PATTERN = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/i;

/**
 * Parses the `apache.org:selector-filter:string` the SDK attaches to a receiver link, e.g.
 * `amqp.annotation.x-opt-offset > '-1'`, `… >= '1024'`, `… > '@latest'`,
 * `amqp.annotation.x-opt-sequence-number > '5'`, `amqp.annotation.x-opt-enqueued-time > '1654122470329'`.
 * No filter means the start of the partition. Returns undefined for anything unrecognised.
 */
export function parseSelector(selector: string | undefined): StartPosition | undefined {
  if (selector === undefined) return { kind: 'earliest' };
  const match = SELECTOR_PATTERN.exec(selector);
  if (match === null) return undefined;
  const [, field = '', operator, value = ''] = match;
  const inclusive = operator === '>=';
  if (field.toLowerCase() === 'offset') {
    if (value === '@latest') return { kind: 'latest' };
    const offset = Number(value);
    if (!Number.isInteger(offset)) return undefined;
    return offset < 0 ? { kind: 'earliest' } : { kind: 'offset', offset, inclusive };
  }
  const number = Number(value);
  if (!Number.isInteger(number)) return undefined;
  if (field.toLowerCase() === 'sequence-number') return { kind: 'sequenceNumber', sequenceNumber: number, inclusive };
  return { kind: 'enqueuedTime', afterMs: number };
}

/**
 * `ambit tap`'s source in the waypoint: every finished request, as its
 * access-log record (access-log.ts, the one record of a request), offered to
 * the subscribers whose filter it matches, whether or not the Telemetry API
 * logs it. Invariants:
 * - Traffic never waits for a subscriber: publish only queues; each
 *   subscriber's queue is bounded (QUEUE_LIMIT records), and a record that
 *   does not fit is dropped and counted, for the subscriber (it is told how
 *   many it missed) and in ambit_waypoint_tap_dropped_total.
 * - With no subscriber nothing is built: `tapping(service)` is checked before
 *   the record is.
 * - A subscriber ends after `max` records, when it unsubscribes, or when the
 *   waypoint closes; it is then gone from the hub.
 */
import type { Counter } from 'prom-client';
import type { AccessLogEntry } from './access-log.js';

/** How many records a slow subscriber may fall behind before records are dropped. */
export const QUEUE_LIMIT = 1000;

export interface TapFilter {
  /** The addressed service's FQDN. */
  service?: string;
  /** Path prefix (as linkerd tap's --path). */
  path?: string;
  method?: string;
  /** An exact code (404) or a class (5xx). */
  status?: string;
}

/** What a subscriber is handed: a request, or how many it missed since the last line. */
export type TapEvent = { request: AccessLogEntry } | { dropped: number };

export interface TapSink {
  /**
   * Writes one event; false when the consumer is full (as stream.write):
   * the hub then queues until `resume` is called.
   */
  write(event: TapEvent): boolean;
  /** Called once when the subscription ends (max reached or hub closed). */
  end(): void;
}

export interface Subscription {
  /** The consumer drained: send what was queued. */
  resume(): void;
  unsubscribe(): void;
}

class Subscriber implements Subscription {
  readonly #queue: TapEvent[] = [];
  #flowing = true;
  #dropped = 0;
  #sent = 0;
  #ended = false;

  constructor(
    readonly filter: TapFilter,
    readonly max: number,
    readonly sink: TapSink,
    readonly onDrop: () => void,
    readonly onEnd: (s: Subscriber) => void,
  ) {}

  offer(entry: AccessLogEntry): void {
    if (this.#ended) return;
    if (this.#queue.length >= QUEUE_LIMIT) {
      this.#dropped++;
      this.onDrop();
      return;
    }
    if (this.#dropped > 0) {
      this.#queue.push({ dropped: this.#dropped });
      this.#dropped = 0;
    }
    this.#queue.push({ request: entry });
    this.#sent++;
    if (this.#flowing) this.resume();
    // Max reached while the consumer is behind: take no more; resume() finishes the queue, then ends.
    else if (this.#sent >= this.max) this.onEnd(this);
  }

  resume(): void {
    this.#flowing = true;
    while (this.#flowing && this.#queue.length > 0) this.#flowing = this.sink.write(this.#queue.shift()!);
    if (this.#queue.length === 0 && this.#sent >= this.max) this.end();
  }

  unsubscribe(): void {
    this.#ended = true;
    this.#queue.length = 0;
    this.onEnd(this);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd(this);
    this.sink.end();
  }
}

export class TapHub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #dropped: Counter | undefined;

  constructor(dropped?: Counter) {
    this.#dropped = dropped;
  }

  /** Whether any subscriber might want a request to `service` (so the record is worth building). */
  tapping(service: string): boolean {
    for (const s of this.#subscribers) if (s.filter.service === undefined || s.filter.service === service) return true;
    return false;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  publish(service: string, entry: AccessLogEntry): void {
    for (const s of this.#subscribers) if (matches(s.filter, service, entry)) s.offer(entry);
  }

  subscribe(filter: TapFilter, max: number, sink: TapSink): Subscription {
    const s = new Subscriber(
      filter,
      max,
      sink,
      () => this.#dropped?.inc(),
      (done) => this.#subscribers.delete(done),
    );
    this.#subscribers.add(s);
    return s;
  }

  /** The waypoint is closing: every subscription ends. */
  close(): void {
    for (const s of [...this.#subscribers]) s.end();
  }
}

export function matches(f: TapFilter, service: string, e: AccessLogEntry): boolean {
  if (f.service !== undefined && f.service !== service) return false;
  if (f.method !== undefined && f.method !== e.method) return false;
  if (f.path !== undefined && !e.path.startsWith(f.path)) return false;
  if (f.status !== undefined) {
    const code = String(e.response_code);
    const klass = /^([1-5])xx$/i.exec(f.status);
    if (klass ? code.length !== 3 || code[0] !== klass[1] : code !== f.status) return false;
  }
  return true;
}

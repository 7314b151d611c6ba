/**
 * `ambit tap`'s source in a proxy: every finished request (the waypoint's
 * access-log record, waypoint/tap-filter.ts) or connection (ambitd's,
 * daemon/connection-tap.ts), offered to the subscribers whose filter it
 * matches, whether or not it is logged. Invariants:
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

/** How many records a slow subscriber may fall behind before records are dropped. */
export const QUEUE_LIMIT = 1000;

/** What every filter has: the service (FQDN) the record is for; the rest is the proxy's. */
export interface TapFilterBase {
  service?: string;
}

/** What a subscriber is handed: a request, or how many it missed since the last line. */
export type TapEvent<R> = { request: R } | { dropped: number };

export interface TapSink<R> {
  /**
   * Writes one event; false when the consumer is full (as stream.write):
   * the hub then queues until `resume` is called.
   */
  write(event: TapEvent<R>): boolean;
  /** Called once when the subscription ends (max reached or hub closed). */
  end(): void;
}

export interface Subscription {
  /** The consumer drained: send what was queued. */
  resume(): void;
  unsubscribe(): void;
}

class Subscriber<R, F> implements Subscription {
  readonly #queue: TapEvent<R>[] = [];
  #flowing = true;
  #dropped = 0;
  #sent = 0;
  #ended = false;

  constructor(
    readonly filter: F,
    readonly max: number,
    readonly sink: TapSink<R>,
    readonly onDrop: () => void,
    readonly onEnd: (s: Subscriber<R, F>) => void,
  ) {}

  offer(entry: R): void {
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

/** `matches(filter, service, record)`: whether a subscriber with `filter` wants `record`, a request or connection to `service`. */
export class TapHub<R, F extends TapFilterBase> {
  readonly #subscribers = new Set<Subscriber<R, F>>();
  readonly #matches: (filter: F, service: string, record: R) => boolean;
  readonly #dropped: Counter | undefined;

  constructor(matches: (filter: F, service: string, record: R) => boolean, dropped?: Counter) {
    this.#matches = matches;
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

  publish(service: string, record: R): void {
    for (const s of this.#subscribers)
      if ((s.filter.service === undefined || s.filter.service === service) && this.#matches(s.filter, service, record)) s.offer(record);
  }

  subscribe(filter: F, max: number, sink: TapSink<R>): Subscription {
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

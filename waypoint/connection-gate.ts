/**
 * Envoy's HTTP/1 connection pool limits in front of one cluster: a request
 * needs a connection (here: one HBONE stream for its whole life); while all
 * `maxConnections` are busy it waits as pending, up to
 * `http1MaxPendingRequests`; past that it overflows at once (503,
 * x-ambit-overflow: pending). Counting lives in the cluster's CircuitBreaker,
 * which survives config reloads, so changed limits apply to the next request.
 */
import type { CircuitBreaker, OverflowReason, Release } from './routing/index.js';

export interface Waiting {
  granted: Promise<Release>;
  /** Leave the queue (client gone, route timeout); a no-op once granted. */
  cancel(): void;
}

interface Waiter {
  resolve: (release: Release) => void;
  releasePending: Release;
  done: boolean;
}

export class ConnectionGate {
  readonly #breaker: CircuitBreaker;
  readonly #queue: Waiter[] = [];

  constructor(breaker: CircuitBreaker) {
    this.#breaker = breaker;
  }

  /** A connection now, a place in the queue, or the overflow reason. */
  acquire(): Release | Waiting | OverflowReason {
    this.#drain();
    const conn = this.#breaker.tryAcquire('connection');
    if (typeof conn === 'function' && this.#queue.length === 0) return this.#wrap(conn);
    if (typeof conn === 'function') conn();
    const pending = this.#breaker.tryAcquire('pending');
    if (typeof pending !== 'function') return pending;
    let resolve!: (r: Release) => void;
    const granted = new Promise<Release>((r) => (resolve = r));
    const waiter: Waiter = { resolve, releasePending: pending, done: false };
    this.#queue.push(waiter);
    return {
      granted,
      cancel: () => {
        if (waiter.done) return;
        waiter.done = true;
        waiter.releasePending();
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
      },
    };
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Each release runs once and hands the freed connection to the head of the queue. */
  #wrap(release: Release): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      this.#drain();
    };
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      const conn = this.#breaker.tryAcquire('connection');
      if (typeof conn !== 'function') return;
      const w = this.#queue.shift()!;
      w.done = true;
      w.releasePending();
      w.resolve(this.#wrap(conn));
    }
  }
}

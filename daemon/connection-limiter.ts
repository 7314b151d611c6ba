/**
 * The counting behind ConnectionLimit (core/mesh/connection-limits.ts): how
 * many connections each source holds open to each local workload, on every
 * inbound path (HBONE and plaintext) of this daemon. Invariants:
 * - a lease is given only while the pair holds fewer than the limit, so the
 *   N+1th concurrent connection is refused and one closing frees a slot;
 * - releasing is idempotent: a connection that ends by two paths (error and
 *   close) gives back one slot;
 * - a pair with nothing open is forgotten, so sources that come and go leave
 *   no state behind;
 * - a lowered limit cuts no open connection: new ones wait until the count is
 *   under it (Envoy's connection_limit does the same).
 */

/** Gives the slot back; calling it again does nothing. */
export type ConnectionLease = () => void;

export class ConnectionLimiter {
  readonly #open = new Map<string, number>();

  /** A lease on one of `limit` slots of (workload, source), or undefined when they are all held. */
  acquire(workload: string, source: string, limit: number): ConnectionLease | undefined {
    const key = `${workload} ${source}`;
    const held = this.#open.get(key) ?? 0;
    if (held >= limit) return undefined;
    this.#open.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.#open.get(key) ?? 1) - 1;
      if (now <= 0) this.#open.delete(key);
      else this.#open.set(key, now);
    };
  }

  /** Connections (workload, source) holds now. */
  held(workload: string, source: string): number {
    return this.#open.get(`${workload} ${source}`) ?? 0;
  }

  /** Pairs with at least one connection open. */
  get pairs(): number {
    return this.#open.size;
  }
}

/**
 * Envoy's outlier detection for one cluster, as Istio configures it
 * (consecutive 5xx and consecutive gateway errors; no success-rate
 * detection). Semantics:
 * - A 5xx counts toward consecutive5xxErrors; 502/503/504 also toward
 *   consecutiveGatewayErrors; any other status resets both. Transport
 *   failures count as Envoy maps them: connect failure/reset -> 503,
 *   timeout -> 504. Ejection happens inline when a count reaches its
 *   threshold (exactly reaches: if ejection is refused, the host must see a
 *   success before it can trip again).
 * - maxEjectionPercent is strict, counting the host about to be ejected:
 *   with the default 10% a cluster of fewer than ten endpoints ejects
 *   nothing (Envoy's always_eject_one_host is off and Istio cannot set it).
 * - An ejected host stays out for baseEjectionTime × its back-off count,
 *   capped at max(300s, base), and returns at the first interval sweep after
 *   that time. Each sweep a non-ejected host's back-off count drops by one.
 * Sweeps run on the injected clock, on demand: no timers.
 */
import type { Endpoint } from './balancers.js';
import type { OutlierSettings } from './destination-policy.js';
import type { AttemptOutcome } from './retry.js';

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejected: boolean;
  ejectedAt: number;
  until: number;
  backoff: number;
}

export interface Ejection {
  key: string;
  since: number;
  until: number;
  backoff: number;
}

const statusOf = (o: AttemptOutcome): number | undefined => (o.error === undefined ? o.status : o.error === 'timeout' ? 504 : 503);

export class OutlierDetector {
  readonly #s: OutlierSettings;
  readonly #now: () => number;
  readonly #hosts = new Map<string, HostState>();
  #total = 0;
  #ejectedCount = 0;
  #nextSweep: number;
  #version = 0;
  readonly #healthy = new WeakMap<readonly Endpoint[], { version: number; list: readonly Endpoint[] }>();

  constructor(settings: OutlierSettings, opts: { now?: () => number } = {}) {
    this.#s = settings;
    this.#now = opts.now ?? Date.now;
    this.#nextSweep = this.#now() + settings.intervalMs;
  }

  /** The cluster's endpoints (for the ejection cap); state of endpoints no longer present is dropped. */
  setEndpoints(keys: Iterable<string>): void {
    const keep = new Set(keys);
    for (const [k, h] of this.#hosts) {
      if (!keep.has(k)) {
        if (h.ejected) this.#ejectedCount--;
        this.#hosts.delete(k);
      }
    }
    this.#total = keep.size;
    this.#version++;
  }

  /** Records one upstream result; true when it ejected the endpoint. */
  report(key: string, outcome: AttemptOutcome): boolean {
    this.#catchUp();
    const status = statusOf(outcome);
    if (status === undefined) return false;
    const h = this.#host(key);
    if (status < 500 || status > 599) {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return false;
    }
    if (h.ejected) return false;
    const s = this.#s;
    if (status === 502 || status === 503 || status === 504) {
      if (++h.consecutiveGateway === s.consecutiveGatewayErrors && s.consecutiveGatewayErrors > 0 && this.#eject(h)) return true;
    } else {
      h.consecutiveGateway = 0;
    }
    return ++h.consecutive5xx === s.consecutive5xxErrors && s.consecutive5xxErrors > 0 && this.#eject(h);
  }

  isEjected(key: string): boolean {
    this.#catchUp();
    return this.#hosts.get(key)?.ejected === true;
  }

  /**
   * The endpoints not ejected, cached per list until an ejection changes.
   * Below minHealthPercent healthy, Envoy's panic mode uses all of them.
   */
  healthy(endpoints: readonly Endpoint[]): readonly Endpoint[] {
    this.#catchUp();
    if (this.#ejectedCount === 0) return endpoints;
    const cached = this.#healthy.get(endpoints);
    if (cached && cached.version === this.#version) return cached.list;
    let list: readonly Endpoint[] = Object.freeze(endpoints.filter((ep) => this.#hosts.get(ep.key)?.ejected !== true));
    if (endpoints.length > 0 && (100 * list.length) / endpoints.length < this.#s.minHealthPercent) list = endpoints;
    this.#healthy.set(endpoints, { version: this.#version, list });
    return list;
  }

  ejections(): Ejection[] {
    this.#catchUp();
    return [...this.#hosts].filter(([, h]) => h.ejected).map(([key, h]) => ({ key, since: h.ejectedAt, until: h.until, backoff: h.backoff }));
  }

  #host(key: string): HostState {
    let h = this.#hosts.get(key);
    if (!h) this.#hosts.set(key, (h = { consecutive5xx: 0, consecutiveGateway: 0, ejected: false, ejectedAt: 0, until: 0, backoff: 0 }));
    return h;
  }

  #eject(h: HostState): boolean {
    const total = Math.max(this.#total, this.#hosts.size);
    if ((100 * (this.#ejectedCount + 1)) / total > this.#s.maxEjectionPercent) return false;
    const s = this.#s;
    const now = this.#now();
    if (s.baseEjectionTimeMs * (h.backoff + 1) <= s.maxEjectionTimeMs) h.backoff++;
    h.ejected = true;
    h.ejectedAt = now;
    h.until = now + Math.min(s.baseEjectionTimeMs * Math.max(h.backoff, 1), s.maxEjectionTimeMs);
    this.#ejectedCount++;
    this.#version++;
    return true;
  }

  /** Runs the interval sweeps due by now; a long idle gap is folded into one pass. */
  #catchUp(): void {
    const now = this.#now();
    if (now < this.#nextSweep) return;
    const interval = this.#s.intervalMs;
    const ticks = Math.floor((now - this.#nextSweep) / interval) + 1;
    const last = this.#nextSweep + (ticks - 1) * interval;
    for (const h of this.#hosts.values()) {
      if (h.ejected) {
        if (h.until > last) continue;
        // Returned at the first sweep at or after `until`; later sweeps of the gap decay its back-off.
        const returnedAt = this.#nextSweep + Math.max(0, Math.ceil((h.until - this.#nextSweep) / interval)) * interval;
        h.ejected = false;
        h.consecutive5xx = 0;
        h.consecutiveGateway = 0;
        h.backoff = Math.max(0, h.backoff - Math.floor((last - returnedAt) / interval));
        this.#ejectedCount--;
        this.#version++;
      } else if (h.backoff > 0) {
        h.backoff = Math.max(0, h.backoff - ticks);
      }
    }
    this.#nextSweep = last + interval;
  }
}

/**
 * Endpoint choice for one cluster, as Envoy's load balancers do it, over
 * the endpoints already filtered by subset labels and outlier ejection.
 * - ROUND_ROBIN: strict rotation.
 * - LEAST_REQUEST: power of two choices over active request counts. Two
 *   distinct endpoints are sampled (Envoy samples with replacement, which
 *   with two endpoints picks the busy one a quarter of the time).
 * - RANDOM: uniform.
 * - consistentHash: a ring hash (Envoy's default for Istio) keyed by a
 *   header, cookie, source IP or query parameter; a request without the key
 *   gets a random endpoint, as Envoy does. Each endpoint owns a fixed number
 *   of ring points, so adding or removing one endpoint moves only the keys
 *   that land on its arcs.
 */
import type { ConsistentHashLB, Labels } from '../config/index.js';
import type { LoadBalancerPolicy } from './destination-policy.js';
import { cookieValue, headerValue, queryValue, type RouteRequest } from './request.js';

export interface Endpoint {
  /** Stable identity (`ip:port`): hashing, counters and ejection are keyed by it. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Labels>;
}

/** What a balancer may read from the request; `setCookie` is filled when a hash cookie must be created. */
export interface PickContext {
  request?: Pick<RouteRequest, 'headers' | 'path' | 'sourceIp'>;
  setCookie?: { name: string; value: string; path: string | undefined; ttlMs: number };
}

export interface Balancer {
  pick(endpoints: readonly Endpoint[], ctx?: PickContext): Endpoint | undefined;
}

const subsetCache = new WeakMap<readonly Endpoint[], Map<Readonly<Labels>, readonly Endpoint[]>>();

/** Endpoints carrying every subset label; cached per (endpoint list, labels object), so reuse both. */
export function subsetEndpoints(all: readonly Endpoint[], labels: Readonly<Labels> | undefined): readonly Endpoint[] {
  if (labels === undefined) return all;
  let byLabels = subsetCache.get(all);
  if (!byLabels) subsetCache.set(all, (byLabels = new Map<Readonly<Labels>, readonly Endpoint[]>()));
  let out = byLabels.get(labels);
  if (!out) {
    const want = Object.entries(labels);
    out = Object.freeze(all.filter((ep) => want.every(([k, v]) => ep.labels[k] === v)));
    byLabels.set(labels, out);
  }
  return out;
}

export class RoundRobinBalancer implements Balancer {
  #next = 0;

  constructor(start = 0) {
    this.#next = start;
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    if (endpoints.length === 0) return undefined;
    const ep = endpoints[this.#next % endpoints.length];
    this.#next = (this.#next + 1) % 0x7fffffff;
    return ep;
  }
}

export class RandomBalancer implements Balancer {
  readonly #rng: () => number;

  constructor(rng: () => number = Math.random) {
    this.#rng = rng;
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    return endpoints.length === 0 ? undefined : endpoints[Math.floor(this.#rng() * endpoints.length)];
  }
}

/** Active requests per endpoint key; the proxy calls begin/end around each upstream request. */
export class RequestLoad {
  readonly #active = new Map<string, number>();

  begin(key: string): void {
    this.#active.set(key, (this.#active.get(key) ?? 0) + 1);
  }

  end(key: string): void {
    const n = (this.#active.get(key) ?? 0) - 1;
    if (n > 0) this.#active.set(key, n);
    else this.#active.delete(key);
  }

  active(key: string): number {
    return this.#active.get(key) ?? 0;
  }
}

export class LeastRequestBalancer implements Balancer {
  readonly #load: RequestLoad;
  readonly #rng: () => number;

  constructor(load: RequestLoad, rng: () => number = Math.random) {
    this.#load = load;
    this.#rng = rng;
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    const n = endpoints.length;
    if (n <= 1) return endpoints[0];
    const i = Math.floor(this.#rng() * n);
    const j = (i + 1 + Math.floor(this.#rng() * (n - 1))) % n;
    const a = endpoints[i]!;
    const b = endpoints[j]!;
    return this.#load.active(b.key) < this.#load.active(a.key) ? b : a;
  }
}

/** FNV-1a then murmur3's finalizer: cheap, allocation-free, and well spread over 32 bits. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Points per endpoint; Envoy's minimum ring size 1024 is honoured for small clusters. */
const POINTS_PER_ENDPOINT = 128;
const MIN_RING_SIZE = 1024;

interface Ring {
  hashes: Uint32Array;
  owners: Uint32Array;
}

function buildRing(endpoints: readonly Endpoint[]): Ring {
  const per = Math.max(POINTS_PER_ENDPOINT, Math.ceil(MIN_RING_SIZE / endpoints.length));
  const points: [number, number][] = [];
  endpoints.forEach((ep, idx) => {
    for (let i = 0; i < per; i++) points.push([hash32(`${ep.key}_${i}`), idx]);
  });
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { hashes: Uint32Array.from(points, (p) => p[0]), owners: Uint32Array.from(points, (p) => p[1]) };
}

export class RingHashBalancer implements Balancer {
  readonly #rings = new WeakMap<readonly Endpoint[], Ring>();
  readonly #key: ConsistentHashLB;
  readonly #rng: () => number;

  constructor(key: ConsistentHashLB, rng: () => number = Math.random) {
    this.#key = key;
    this.#rng = rng;
  }

  pick(endpoints: readonly Endpoint[], ctx: PickContext = {}): Endpoint | undefined {
    if (endpoints.length <= 1) return endpoints[0];
    let ring = this.#rings.get(endpoints);
    if (!ring) this.#rings.set(endpoints, (ring = buildRing(endpoints)));
    const k = this.hashKey(ctx);
    const h = k === undefined ? Math.floor(this.#rng() * 0x100000000) : hash32(k);
    // First point at or after h, wrapping.
    const { hashes, owners } = ring;
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return endpoints[owners[lo === hashes.length ? 0 : lo]!];
  }

  /** The string hashed for this request, or undefined when the request lacks it. */
  hashKey(ctx: PickContext): string | undefined {
    const req = ctx.request;
    const k = this.#key;
    if (k.httpHeaderName !== undefined) return req && headerValue(req.headers, k.httpHeaderName.toLowerCase());
    if (k.useSourceIp) return req?.sourceIp;
    if (k.httpQueryParameterName !== undefined) return req && queryValue(req.path, k.httpQueryParameterName);
    if (k.httpCookie) {
      const c = k.httpCookie;
      const v = req && cookieValue(headerValue(req.headers, 'cookie'), c.name);
      if (v !== undefined || c.ttl === undefined) return v;
      // Envoy creates the cookie when a ttl is set, from the downstream address, and hashes its value.
      const value = hash32(req?.sourceIp ?? String(this.#rng()))
        .toString(16)
        .padStart(8, '0');
      ctx.setCookie = { name: c.name, value, path: c.path, ttlMs: c.ttl };
      return value;
    }
    return undefined;
  }
}

/** The balancer for a cluster's policy. PASSTHROUGH keeps the caller's original destination: the proxy handles it. */
export function createBalancer(lb: LoadBalancerPolicy, deps: { load?: RequestLoad; rng?: () => number } = {}): Balancer {
  const rng = deps.rng ?? Math.random;
  switch (lb.kind) {
    case 'ROUND_ROBIN':
      return new RoundRobinBalancer(Math.floor(rng() * 0x7fffffff));
    case 'RANDOM':
    case 'PASSTHROUGH':
      return new RandomBalancer(rng);
    case 'LEAST_REQUEST':
      return new LeastRequestBalancer(deps.load ?? new RequestLoad(), rng);
    case 'CONSISTENT_HASH':
      return new RingHashBalancer(lb.hash, rng);
  }
}

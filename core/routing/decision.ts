/**
 * What the waypoint does with one request, and the per-destination parts of
 * it that are computed once per config snapshot (header operations, fault,
 * mirrors), so building a decision per request is one object and, when the
 * route rewrites, one new path string.
 */
import type { Headers, HTTPFaultInjection, HTTPRoute } from '../config/index.js';
import type { DestinationPolicy } from './destination-policy.js';
import type { RetryPolicy } from './retry.js';

/** Applied in order. Envoy runs a level's removes before its set/add. */
export interface HeaderOp {
  op: 'set' | 'add' | 'remove';
  /** Lower-case. */
  name: string;
  /** "" for remove. */
  value: string;
}

export interface Target {
  host: string;
  subset: string | undefined;
  port: number;
}

export interface FaultPolicy {
  delayMs: number;
  /** 0-100. */
  delayPercent: number;
  abortStatus: number | undefined;
  /** 0-100. */
  abortPercent: number;
}

export interface MirrorTarget extends Target {
  /** 0-100. */
  percent: number;
}

export interface ForwardDecision {
  kind: 'route';
  /** `namespace/name` of the VirtualService, undefined on the default route (no VirtualService). */
  virtualService: string | undefined;
  /** The HTTPRoute's name (`route.match` as Istio names it), if any. */
  routeName: string | undefined;
  /** Index of the matched route in the VirtualService's `http` (for `ambit explain`), undefined on the default route. */
  routeIndex: number | undefined;
  destination: Target;
  /** The DestinationRule-derived policy; undefined when the subset is not defined (answer 503, as Envoy does for a missing cluster). */
  policy: DestinationPolicy | undefined;
  /** Present when the route rewrites: the path (query kept) and Host to send upstream. */
  rewrite: { path: string; authority: string } | undefined;
  requestHeaders: readonly HeaderOp[];
  responseHeaders: readonly HeaderOp[];
  /** 0: no timeout (Istio's default disables the route timeout). */
  timeoutMs: number;
  /** undefined: no retries. */
  retries: RetryPolicy | undefined;
  fault: FaultPolicy | undefined;
  mirrors: readonly MirrorTarget[];
}

export interface RedirectDecision {
  kind: 'redirect';
  status: number;
  location: string;
}

export interface DirectDecision {
  kind: 'direct';
  status: number;
  body: string;
}

/** A VirtualService applies but none of its routes matched: Envoy answers 404 (NR, "route not found"). */
export interface NotFoundDecision {
  kind: 'notFound';
  virtualService: string;
}

export type RouteDecision = ForwardDecision | RedirectDecision | DirectDecision | NotFoundDecision;

const NO_OPS: readonly HeaderOp[] = Object.freeze([]);

/** Pseudo-headers and Host cannot be removed (Istio drops them from remove lists). */
const internal = (name: string) => name.startsWith(':') || name === 'host';
const isAuthority = (name: string) => name === ':authority' || name === 'host';

export interface HeaderLevel {
  request: { removes: HeaderOp[]; adds: HeaderOp[] };
  response: { removes: HeaderOp[]; adds: HeaderOp[] };
  /** A request set/add of Host or :authority, which Istio turns into a host rewrite. */
  authority: string | undefined;
}

function ops(set: Record<string, string> | undefined, add: Record<string, string> | undefined): { adds: HeaderOp[]; authority: string | undefined } {
  let authority: string | undefined;
  const adds: HeaderOp[] = [];
  for (const [op, map] of [
    ['set', set],
    ['add', add],
  ] as const) {
    for (const [raw, value] of Object.entries(map ?? {})) {
      const name = raw.toLowerCase();
      if (isAuthority(name)) authority ??= value;
      else adds.push({ op, name, value });
    }
  }
  return { adds, authority };
}

const removes = (names: string[] | undefined): HeaderOp[] =>
  (names ?? [])
    .map((n) => n.toLowerCase())
    .filter((n) => !internal(n))
    .map((name) => ({ op: 'remove', name, value: '' }));

export function headerLevel(h: Headers | undefined): HeaderLevel {
  const req = ops(h?.request?.set, h?.request?.add);
  const res = ops(h?.response?.set, h?.response?.add);
  return {
    request: { removes: removes(h?.request?.remove), adds: req.adds },
    response: { removes: removes(h?.response?.remove), adds: res.adds },
    authority: req.authority,
  };
}

/**
 * The order Envoy applies route- and destination-level operations in, as
 * Istio configures them. One destination: Istio appends the destination's
 * operations to the route's, in one list, so all removes run first and a
 * destination `set` overrides a route `set`. Several destinations: they are
 * weighted clusters, whose operations Envoy applies before the route's, so
 * a route `set` wins.
 */
export function mergeOps(route: HeaderLevel['request'], dest: HeaderLevel['request'], single: boolean): readonly HeaderOp[] {
  const all = single ? [...route.removes, ...dest.removes, ...route.adds, ...dest.adds] : [...dest.removes, ...dest.adds, ...route.removes, ...route.adds];
  return all.length === 0 ? NO_OPS : Object.freeze(all);
}

export function faultPolicy(f: HTTPFaultInjection | undefined): FaultPolicy | undefined {
  if (!f || (!f.delay && !f.abort)) return undefined;
  return Object.freeze({
    delayMs: f.delay?.fixedDelay ?? 0,
    delayPercent: f.delay?.percentage.value ?? 0,
    abortStatus: f.abort?.httpStatus,
    abortPercent: f.abort?.percentage.value ?? 0,
  });
}

/** Rolls the fault's dice: Envoy's fault filter delays first, then aborts, each with its own percentage. */
export function injectFault(f: FaultPolicy | undefined, rng: () => number = Math.random): { delayMs: number; abortStatus: number | undefined } {
  if (!f) return { delayMs: 0, abortStatus: undefined };
  const delayMs = f.delayMs > 0 && rng() * 100 < f.delayPercent ? f.delayMs : 0;
  const abortStatus = f.abortStatus !== undefined && rng() * 100 < f.abortPercent ? f.abortStatus : undefined;
  return { delayMs, abortStatus };
}

/**
 * Mirrors: the legacy `mirror` (mirrorPercentage, 100 when unset) and each
 * `mirrors` entry (percentage, 100 when unset). Istio drops a mirror whose
 * percentage is 0. A port of undefined means the request's port.
 */
export function mirrorsOf(r: HTTPRoute): { host: string; subset: string | undefined; port: number | undefined; percent: number }[] {
  const out: { host: string; subset: string | undefined; port: number | undefined; percent: number }[] = [];
  const push = (d: { host: string; subset?: string; port?: { number: number } }, pct: number | undefined) => {
    const percent = pct ?? 100;
    if (percent > 0) out.push({ host: d.host, subset: d.subset, port: d.port?.number, percent });
  };
  if (r.mirror) push(r.mirror, r.mirrorPercentage?.value);
  for (const m of r.mirrors ?? []) push(m.destination, m.percentage?.value);
  return out;
}

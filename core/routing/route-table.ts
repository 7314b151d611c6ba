/**
 * The compiled routing config of one snapshot: VirtualServices by host,
 * their HTTP routes with matchers and per-destination actions prepared, and
 * DestinationRule policies resolved lazily per cluster and cached.
 *
 * Which VirtualService applies: Istio's waypoint selects it by the service
 * the caller dialed (RouteRequest.service); without that, by the Host
 * header, short names resolved in the caller's namespace. A host with no
 * VirtualService, or whose VirtualService has no HTTP route usable on this
 * port, gets Istio's default route: the service itself, request port, the
 * default retry policy, no timeout. A VirtualService whose routes all miss
 * answers 404, as Envoy does when no route in a virtual host matches.
 *
 * Connections that are not HTTP take the VirtualService's tcp routes
 * (tcp-routes.ts), or go to the service itself when none fits.
 */
import type { DestinationRuleSpec, HTTPRoute, TypedResource, VirtualServiceSpec } from '../config/index.js';
import { DEFAULT_MESH_DOMAIN } from '../config/resource.js';
import {
  faultPolicy,
  headerLevel,
  mergeOps,
  mirrorsOf,
  type FaultPolicy,
  type ForwardDecision,
  type HeaderOp,
  type MirrorTarget,
  type RouteDecision,
  type Target,
} from './decision.js';
import { clusterName, resolvePolicy, type DestinationPolicy } from './destination-policy.js';
import { RoutingError } from './errors.js';
import { HostIndex, byAge, refOf, type HostConflict } from './hosts.js';
import { compileMatch, matches, type CompiledMatch } from './match.js';
import { RequestView, hostWithoutPort, pathEnd, type RouteRequest } from './request.js';
import { DEFAULT_RETRY_POLICY, retryPolicyFor, type RetryPolicy } from './retry.js';
import { pickWeighted, weighted } from './weights.js';
import { compileTcpRoutes, pickTcpTarget, servesPort, type CompiledTcpVirtualService, type TcpRouteRequest } from './tcp-routes.js';

/** Where a connection that is not HTTP goes. */
export interface TcpDecision {
  kind: 'tcp';
  /** `namespace/name` of the VirtualService whose tcp route chose, undefined for the service itself. */
  virtualService: string | undefined;
  destination: Target;
  /** undefined when the subset is not defined (no cluster: the connection is refused). */
  policy: DestinationPolicy | undefined;
}

export interface RouteTableOptions {
  /** Mesh domain short names resolve into (default cluster.local). */
  domain?: string;
  /** Uniform [0, 1); injectable so weighted picks are reproducible in tests. */
  rng?: () => number;
}

interface CompiledTarget {
  host: string;
  subset: string | undefined;
  /** undefined: the request's port. */
  port: number | undefined;
  /** Running total of weights up to and including this target. */
  upTo: number;
  requestHeaders: readonly HeaderOp[];
  responseHeaders: readonly HeaderOp[];
  authority: string | undefined;
}

type Action =
  | {
      kind: 'forward';
      targets: CompiledTarget[];
      total: number;
      rewriteUri: string | undefined;
      authority: string | undefined;
      timeoutMs: number;
      retries: RetryPolicy | undefined;
      fault: FaultPolicy | undefined;
      mirrors: { host: string; subset: string | undefined; port: number | undefined; percent: number }[];
    }
  | { kind: 'redirect'; status: number; uri: string | undefined; authority: string | undefined; port: number | undefined; scheme: string | undefined }
  | { kind: 'direct'; status: number; body: string };

interface CompiledRoute {
  name: string | undefined;
  /** Position in the VirtualService's `http` list. */
  index: number;
  /** undefined: matches every request. */
  matches: CompiledMatch[] | undefined;
  action: Action;
}

interface CompiledVirtualService {
  ref: string;
  routes: CompiledRoute[];
  /** Ports some route can match on; undefined: any port. Istio drops routes whose match.port differs from the listener's. */
  ports: ReadonlySet<number> | undefined;
}

const NO_MIRRORS: readonly MirrorTarget[] = Object.freeze([]);

function compileTargets(r: HTTPRoute, ref: string, where: string): { targets: CompiledTarget[]; total: number } {
  const route = headerLevel(r.headers);
  return weighted(r.route ?? [], ref, where, (d, single) => {
    const own = headerLevel(d.headers);
    return {
      host: d.destination.host,
      subset: d.destination.subset,
      port: d.destination.port?.number,
      requestHeaders: mergeOps(route.request, own.request, single),
      responseHeaders: mergeOps(route.response, own.response, single),
      authority: own.authority,
    };
  });
}

function compileAction(r: HTTPRoute, ref: string, where: string): Action {
  if (r.redirect) {
    const d = r.redirect;
    return { kind: 'redirect', status: d.redirectCode ?? 301, uri: d.uri, authority: d.authority, port: d.port, scheme: d.scheme };
  }
  if (r.directResponse) return { kind: 'direct', status: r.directResponse.status, body: r.directResponse.body?.string ?? '' };
  const { targets, total } = compileTargets(r, ref, where);
  return {
    kind: 'forward',
    targets,
    total,
    rewriteUri: r.rewrite?.uri,
    // rewrite.authority beats a Host set in the route's headers (Istio routeDestination).
    authority: r.rewrite?.authority ?? headerLevel(r.headers).authority,
    timeoutMs: r.timeout ?? 0,
    retries: retryPolicyFor(r.retries),
    fault: faultPolicy(r.fault),
    mirrors: mirrorsOf(r),
  };
}

function compileVirtualService(vs: TypedResource<'VirtualService'>): CompiledVirtualService {
  const ref = refOf(vs.metadata);
  const spec: VirtualServiceSpec = vs.spec;
  let anyPort = false;
  const ports = new Set<number>();
  const routes = (spec.http ?? []).map((r, i): CompiledRoute => {
    const where = `http[${i}]`;
    const blocks = r.match?.map((m, j) => compileMatch(m, `${ref} ${where}.match[${j}]`));
    if (!blocks || blocks.length === 0) anyPort = true;
    else {
      for (const m of blocks) {
        if (m.port === undefined) anyPort = true;
        else ports.add(m.port);
      }
    }
    return { name: r.name, index: i, matches: blocks && blocks.length > 0 ? blocks : undefined, action: compileAction(r, ref, where) };
  });
  return { ref, routes, ports: anyPort ? undefined : ports };
}

function ofKind<K extends 'VirtualService' | 'DestinationRule'>(rs: readonly TypedResource[], kind: K): TypedResource<K>[] {
  for (const r of rs) {
    if (r.kind !== kind) {
      throw new RoutingError('EROUTE_KIND', `${r.kind} ${refOf(r.metadata)} was given where a ${kind} was expected`, { kind: r.kind });
    }
  }
  return rs as TypedResource<K>[];
}

const defaultPort = (scheme: string) => (scheme === 'https' ? 443 : 80);

export class RouteTable {
  /** Hosts claimed by more than one VirtualService or DestinationRule: only the oldest applies. */
  readonly conflicts: readonly HostConflict[];
  readonly #vs: HostIndex<CompiledVirtualService>;
  readonly #tcp: HostIndex<CompiledTcpVirtualService>;
  readonly #dr: HostIndex<DestinationRuleSpec>;
  readonly #domain: string;
  readonly #rng: () => number;
  readonly #policies = new Map<string, DestinationPolicy | null>();

  constructor(vs: HostIndex<CompiledVirtualService>, tcp: HostIndex<CompiledTcpVirtualService>, dr: HostIndex<DestinationRuleSpec>, opts: RouteTableOptions) {
    this.#vs = vs;
    this.#tcp = tcp;
    this.#dr = dr;
    this.#domain = opts.domain ?? DEFAULT_MESH_DOMAIN;
    this.#rng = opts.rng ?? Math.random;
    // A VirtualService with both kinds of route conflicts in both indexes; report each host once.
    this.conflicts = [...vs.conflicts, ...tcp.conflicts.filter((c) => !vs.conflicts.some((v) => v.host === c.host)), ...dr.conflicts];
  }

  /** The decision for one request. `rng` overrides the table's for this call. */
  route(req: RouteRequest, rng: () => number = this.#rng): RouteDecision {
    const host = req.service ?? this.#qualify(hostWithoutPort(req.host), req.sourceNamespace);
    const vs = this.#vs.lookup(host);
    if (!vs || (vs.ports !== undefined && !vs.ports.has(req.port))) return this.#defaultRoute(host, req);
    const view = new RequestView(req);
    for (const r of vs.routes) {
      const m = r.matches === undefined ? null : r.matches.find((b) => matches(b, view));
      if (m === undefined) continue;
      return this.#decide(vs, r, m, view, rng);
    }
    return { kind: 'notFound', virtualService: vs.ref };
  }

  /**
   * Whether connections to `service` on `port` are TCP by configuration: a
   * VirtualService has tcp routes for the port and no HTTP route that could
   * apply there. Such connections are proxied as TCP without waiting for
   * the client to speak first.
   */
  tcpOnly(service: string, port: number): boolean {
    const tcp = this.#tcp.lookup(service);
    if (!tcp || !servesPort(tcp, port)) return false;
    const http = this.#vs.lookup(service);
    return !http || (http.ports !== undefined && !http.ports.has(port));
  }

  /** Where a non-HTTP connection goes: a fitting tcp route's weighted destination, else the service itself on the port dialed. */
  routeTcp(req: TcpRouteRequest, rng: () => number = this.#rng): TcpDecision {
    const vs = this.#tcp.lookup(req.service);
    const t = vs && pickTcpTarget(vs, req, rng);
    const destination = t ? { host: t.host, subset: t.subset, port: t.port ?? req.port } : { host: req.service, subset: undefined, port: req.port };
    return { kind: 'tcp', virtualService: t ? vs.ref : undefined, destination, policy: this.policyFor(destination.host, destination.subset, destination.port) };
  }

  /** The merged DestinationRule policy for a cluster; undefined when `subset` is not defined for `host`. Cached. */
  policyFor(host: string, subset: string | undefined, port: number): DestinationPolicy | undefined {
    const key = clusterName(host, subset, port);
    let p = this.#policies.get(key);
    if (p === undefined) {
      p = resolvePolicy(this.#dr.lookup(host), host, subset, port) ?? null;
      this.#policies.set(key, p);
    }
    return p ?? undefined;
  }

  /**
   * Short names as Kubernetes DNS search paths would expand them for the
   * caller: `reviews` -> reviews.<ns>.svc.<domain>, `reviews.ns` ->
   * reviews.ns.svc.<domain>, `reviews.ns.svc` -> +.<domain>.
   */
  #qualify(host: string, namespace: string | undefined): string {
    const dots = countDots(host);
    if (dots === 0 && !host.startsWith('[')) return `${host}.${namespace ?? 'default'}.svc.${this.#domain}`;
    if (host.endsWith('.svc')) return `${host}.${this.#domain}`;
    if (dots === 1 && !this.#vs.exact(host) && this.#vs.exact(`${host}.svc.${this.#domain}`)) return `${host}.svc.${this.#domain}`;
    return host;
  }

  #defaultRoute(host: string, req: RouteRequest): ForwardDecision {
    return {
      kind: 'route',
      virtualService: undefined,
      routeName: undefined,
      routeIndex: undefined,
      destination: { host, subset: undefined, port: req.port },
      policy: this.policyFor(host, undefined, req.port),
      rewrite: undefined,
      requestHeaders: [],
      responseHeaders: [],
      timeoutMs: 0,
      retries: DEFAULT_RETRY_POLICY,
      fault: undefined,
      mirrors: NO_MIRRORS,
    };
  }

  #decide(vs: CompiledVirtualService, r: CompiledRoute, m: CompiledMatch | null, view: RequestView, rng: () => number): RouteDecision {
    const a = r.action;
    const req = view.req;
    if (a.kind === 'direct') return { kind: 'direct', status: a.status, body: a.body };
    if (a.kind === 'redirect') return { kind: 'redirect', status: a.status, location: redirectLocation(a, req) };
    const t = pickWeighted(a.targets, a.total, rng);
    const port = t.port ?? req.port;
    const authority = a.authority ?? t.authority;
    const rewrite =
      a.rewriteUri !== undefined || authority !== undefined
        ? { path: a.rewriteUri === undefined ? req.path : rewritePath(req.path, m, a.rewriteUri), authority: authority ?? req.host }
        : undefined;
    return {
      kind: 'route',
      virtualService: vs.ref,
      routeName: m?.name === undefined ? r.name : r.name === undefined ? m.name : `${r.name}.${m.name}`,
      routeIndex: r.index,
      destination: { host: t.host, subset: t.subset, port },
      policy: this.policyFor(t.host, t.subset, port),
      rewrite,
      requestHeaders: t.requestHeaders,
      responseHeaders: t.responseHeaders,
      timeoutMs: a.timeoutMs,
      retries: a.retries,
      fault: a.fault,
      mirrors: a.mirrors.length === 0 ? NO_MIRRORS : a.mirrors.map((x) => ({ ...x, port: x.port ?? req.port })),
    };
  }
}

function portOf(authority: string): number | undefined {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || colon < authority.lastIndexOf(']')) return undefined;
  const p = Number(authority.slice(colon + 1));
  return Number.isInteger(p) && p > 0 ? p : undefined;
}

function countDots(s: string): number {
  let n = 0;
  for (let i = s.indexOf('.'); i >= 0; i = s.indexOf('.', i + 1)) n++;
  return n;
}

/**
 * Envoy's prefix_rewrite: a prefix match swaps the matched prefix; an exact
 * or regex match swaps the whole path and keeps the query. A route without
 * a uri match is Istio's `prefix: /`, so only the leading "/" is swapped
 * (`/a` with rewrite `/v2` becomes `/v2a`, as in Istio).
 */
export function rewritePath(path: string, m: CompiledMatch | null, to: string): string {
  const uri = m?.uri;
  const cut = uri === undefined ? 1 : uri.kind === 'prefix' ? uri.value.length : pathEnd(path);
  return to + path.slice(cut);
}

/**
 * Envoy redirects: uri replaces the path (the request's query is kept
 * unless the new uri carries its own), authority the host, port the port,
 * scheme the scheme; the default code is 301. A default port is omitted.
 */
function redirectLocation(a: Extract<Action, { kind: 'redirect' }>, req: RouteRequest): string {
  const scheme = a.scheme ?? req.scheme ?? 'http';
  const host = a.authority ?? hostWithoutPort(req.host);
  const port = a.port ?? (a.authority === undefined ? portOf(req.host) : undefined);
  const hostPort = port === undefined || port === defaultPort(scheme) ? host : `${host}:${port}`;
  const end = pathEnd(req.path);
  const query = req.path.slice(end);
  const path = a.uri === undefined ? req.path : a.uri.includes('?') ? a.uri : a.uri + query;
  return `${scheme}://${hostPort}${path}`;
}

/**
 * Compiles a snapshot's VirtualServices and DestinationRules (typed by
 * core/config `normalize`, so hosts are fully qualified).
 */
export function compileRoutes(virtualServices: readonly TypedResource[], destinationRules: readonly TypedResource[], opts: RouteTableOptions = {}): RouteTable {
  const vsIndex = new HostIndex<CompiledVirtualService>();
  const tcpIndex = new HostIndex<CompiledTcpVirtualService>();
  for (const vs of byAge(ofKind(virtualServices, 'VirtualService'))) {
    const tcp = compileTcpRoutes(refOf(vs.metadata), vs.spec.tcp);
    if (tcp) for (const h of vs.spec.hosts) tcpIndex.add(h, tcp.ref, tcp);
    const compiled = compileVirtualService(vs);
    // A VirtualService with no HTTP routes does not apply to HTTP (Istio falls back to the default route).
    if (compiled.routes.length === 0) continue;
    for (const h of vs.spec.hosts) vsIndex.add(h, compiled.ref, compiled);
  }
  const drIndex = new HostIndex<DestinationRuleSpec>();
  for (const dr of byAge(ofKind(destinationRules, 'DestinationRule'))) drIndex.add(dr.spec.host, refOf(dr.metadata), dr.spec);
  return new RouteTable(vsIndex.seal(), tcpIndex.seal(), drIndex.seal(), opts);
}

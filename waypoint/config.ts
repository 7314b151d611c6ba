/**
 * One mesh snapshot compiled for the waypoint: the route table, the L7
 * policies of each served service, and endpoint lists per (service, port)
 * built once, so the per-request path only does map lookups and the
 * routing caches (subsets, healthy lists) keyed by list identity keep hitting.
 * A new snapshot builds a new WaypointConfig; requests in flight keep the one
 * they started with.
 */
import { DEFAULT_TRUST_DOMAIN, type WorkloadPolicies } from '../core/authz/index.js';
import { nodeId } from '../core/identity/index.js';
import type { EndpointRecord } from '../core/store/types.js';
import { serviceRef } from '../core/mesh/index.js';
import { UNKNOWN, type TrafficFacts } from '../core/telemetry/labels.js';
import { callerParty, endpointParty } from '../core/telemetry/mesh-facts.js';
import type { Caller } from './caller.js';
import { compileRoutes, type Endpoint, type RouteTable } from '../core/routing/index.js';
import type { MeshView, ServiceView } from './mesh-view.js';
import type { Authenticators } from './authn/authenticators.js';
import type { RequestAuthenticator } from './authn/request-authn.js';
import type { OidcLoginGate } from './oidc/login.js';
import type { OidcLogins } from './oidc/logins.js';
import type { RateLimiters, ServiceRateLimits } from './ratelimit/rate-limits.js';
import { ServiceTelemetry } from './telemetry.js';

export interface WaypointConfigOptions {
  /** FQDNs of the services this waypoint serves; only their VIPs are accepted. */
  services: readonly string[];
  domain?: string;
  /** For the identity each endpoint's node daemon must present (default cluster.local). */
  trustDomain?: string;
  /** Compiles RequestAuthentication, keeping fetched keys across snapshots; without it no JWT is checked. */
  authenticators?: Authenticators;
  /** Compiles RateLimit, keeping local buckets across snapshots; without it nothing is limited. */
  rateLimiters?: RateLimiters;
  /** Compiles OidcLogin, keeping discovered issuers across snapshots; without it no browser login is done. */
  oidcLogins?: OidcLogins;
}

/** Where one endpoint is reached: its peer daemon's HBONE port, as the identity it must present. */
export interface Upstream {
  /** FQDN of the service the endpoint was found under. */
  service: string;
  endpoint: Endpoint;
  record: EndpointRecord;
  peer: { host: string; port: number };
  identity: string;
  /** What the peer daemon's 15008 must present: its node identity. */
  peerIdentity: string;
  /** The HBONE `:authority`: the endpoint's own address and port. */
  authority: string;
}

const EMPTY: readonly Endpoint[] = Object.freeze([]);

/** Where a connection to `up` goes: the endpoint, behind which peer, as which identity. Pooled connections are shared by route. */
export const routeOf = (up: Upstream): string => `${up.authority} via ${up.peer.host}:${up.peer.port} as ${up.peerIdentity}`;

export class WaypointConfig {
  readonly revision: number;
  readonly routes: RouteTable;
  readonly #mesh: MeshView;
  readonly #served = new Map<string, ServiceView>();
  readonly #policies = new Map<string, WorkloadPolicies>();
  readonly #authn: ReadonlyMap<string, RequestAuthenticator>;
  readonly #rateLimits: ReadonlyMap<string, ServiceRateLimits>;
  readonly #logins: ReadonlyMap<string, OidcLoginGate>;
  readonly #telemetry = new Map<string, ServiceTelemetry>();
  readonly #endpoints = new Map<string, readonly Endpoint[]>();
  readonly #upstreams = new Map<string, Upstream>();
  readonly #trustDomain: string;

  constructor(mesh: MeshView, options: WaypointConfigOptions) {
    this.#mesh = mesh;
    this.revision = mesh.revision;
    this.#trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.routes = compileRoutes(mesh.typed.of('VirtualService'), mesh.typed.of('DestinationRule'), { domain: options.domain });
    for (const fqdn of options.services) {
      const svc = mesh.serviceByName(fqdn);
      if (!svc?.record.vip) continue;
      this.#served.set(svc.record.vip, svc);
      this.#policies.set(fqdn, mesh.policies.forWorkload({ namespace: svc.record.namespace, serviceName: svc.record.name, atWaypoint: true }));
      this.#telemetry.set(fqdn, new ServiceTelemetry(mesh, svc.record));
    }
    const served = [...this.#served.values()].map((s) => s.record);
    this.#authn = options.authenticators?.compile(mesh.typed.of('RequestAuthentication'), served) ?? new Map();
    this.#rateLimits = options.rateLimiters?.compile(mesh.typed.of('RateLimit'), served) ?? new Map();
    this.#logins = options.oidcLogins?.compile(mesh.typed.of('OidcLogin'), served) ?? new Map();
  }

  /** The served service's browser login (OidcLogin), if one applies. */
  oidcLoginFor(service: ServiceView): OidcLoginGate | undefined {
    return this.#logins.get(`${service.record.namespace}/${service.record.name}`);
  }

  /** The served service's RateLimit rules; undefined or empty: none apply. */
  rateLimitsFor(service: ServiceView): ServiceRateLimits | undefined {
    return this.#rateLimits.get(`${service.record.namespace}/${service.record.name}`);
  }

  /** The served service's JWT checks; undefined or empty: none apply. */
  authnFor(service: ServiceView): RequestAuthenticator | undefined {
    return this.#authn.get(`${service.record.namespace}/${service.record.name}`);
  }

  /** Telemetry API settings of a served service (access logs, metric overrides, tracing). */
  telemetryFor(fqdn: string): ServiceTelemetry | undefined {
    return this.#telemetry.get(fqdn);
  }

  /** Every Telemetry or MeshConfig problem of this snapshot's served services, once each. */
  telemetryProblems(): string[] {
    return [...new Set([...this.#telemetry.values()].flatMap((t) => t.problems))];
  }

  /** The served service a caller dialed (HBONE authority = VIP:port), or undefined: not ours to proxy. */
  serviceAt(ip: string, port: number): ServiceView | undefined {
    const svc = this.#served.get(ip);
    return svc && svc.record.ports.includes(port) ? svc : undefined;
  }

  /** The labels of the workload behind a verified caller (VirtualService `sourceLabels`). */
  sourceLabels(principal: string, address: string): Readonly<Record<string, string>> | undefined {
    return this.#mesh.sourceLabels(principal, address);
  }

  /**
   * What the metric labels of one request or TCP connection are built from
   * (core/telemetry/labels.ts): the verified caller, the endpoint it reached
   * (none yet: "unknown") and the service of the host it was routed to.
   */
  trafficFacts(caller: Caller, host: string, up: Upstream | undefined): TrafficFacts {
    const svc = this.#mesh.serviceByName(host);
    return {
      reporter: 'waypoint',
      source: callerParty(this.#mesh, caller.principal, caller.address),
      destination: up ? endpointParty(this.#mesh, up.record) : {},
      service: svc ? serviceRef(svc) : { host, name: host, namespace: UNKNOWN },
      securityPolicy: 'mutual_tls',
    };
  }

  policiesFor(fqdn: string): WorkloadPolicies | undefined {
    return this.#policies.get(fqdn);
  }

  /** Endpoints of `fqdn` listening on `port`; the same array for the life of this config. */
  endpoints(fqdn: string, port: number): readonly Endpoint[] {
    const key = `${fqdn}|${port}`;
    let list = this.#endpoints.get(key);
    if (list) return list;
    const svc = this.#mesh.serviceByName(fqdn);
    if (!svc) list = EMPTY;
    else {
      list = Object.freeze(svc.endpoints.filter((r) => r.port === port).map((r) => this.#upstream(r, fqdn).endpoint));
    }
    this.#endpoints.set(key, list);
    return list;
  }

  upstream(endpoint: Endpoint): Upstream | undefined {
    return this.#upstreams.get(endpoint.key);
  }

  /** `up`'s endpoint as this snapshot has it, or undefined when it is gone or now reached another way. */
  current(up: Upstream): Upstream | undefined {
    const ep = this.endpoints(up.service, up.endpoint.port).find((e) => e.key === up.endpoint.key);
    const now = ep && this.upstream(ep);
    return now && routeOf(now) === routeOf(up) ? now : undefined;
  }

  #upstream(record: EndpointRecord, service: string): Upstream {
    const key = record.address.includes(':') ? `[${record.address}]:${record.port}` : `${record.address}:${record.port}`;
    let u = this.#upstreams.get(key);
    if (!u) {
      const peer = this.#mesh.peerFor(record);
      u = {
        service,
        endpoint: Object.freeze({ key, address: record.address, port: record.port, labels: record.labels }),
        record,
        peer: { host: peer.host, port: peer.port },
        identity: this.#mesh.identityOf(record),
        peerIdentity: nodeId(this.#trustDomain, peer.node).uri,
        authority: key,
      };
      this.#upstreams.set(key, u);
    }
    return u;
  }
}

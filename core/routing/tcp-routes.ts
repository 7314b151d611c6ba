/**
 * VirtualService `tcp` routes, as Istio applies them to traffic that is not
 * HTTP: the first route whose L4 match fits the connection (port, source
 * namespace, source labels, destination subnet) picks one of its weighted
 * destinations. A route without `match` fits every connection.
 */
import { inRanges, parseAddress, parseRanges, type Ranges } from '../authz/address.js';
import type { Labels, L4MatchAttributes, TCPRoute } from '../config/index.js';
import { pickWeighted, weighted } from './weights.js';

/** What the waypoint knows about a connection it is about to proxy as TCP. */
export interface TcpRouteRequest {
  /** FQDN of the service the caller dialed. */
  service: string;
  port: number;
  /** The address the caller dialed (the service VIP). */
  destinationIp?: string;
  sourceNamespace?: string;
  sourceLabels?: Readonly<Labels>;
}

export interface TcpTarget {
  host: string;
  subset: string | undefined;
  /** undefined: the connection's port. */
  port: number | undefined;
  /** Running total of weights up to and including this one. */
  upTo: number;
}

interface CompiledL4Match {
  port: number | undefined;
  sourceNamespace: string | undefined;
  sourceLabels: Readonly<Labels> | undefined;
  subnets: Ranges | undefined;
}

interface CompiledTcpRoute {
  /** undefined: every connection. */
  matches: CompiledL4Match[] | undefined;
  targets: TcpTarget[];
  total: number;
}

export interface CompiledTcpVirtualService {
  ref: string;
  routes: CompiledTcpRoute[];
}

function compileMatch(m: L4MatchAttributes): CompiledL4Match {
  return {
    port: m.port,
    sourceNamespace: m.sourceNamespace,
    sourceLabels: m.sourceLabels,
    subnets: m.destinationSubnets && m.destinationSubnets.length > 0 ? parseRanges(m.destinationSubnets) : undefined,
  };
}

function compileTargets(r: TCPRoute, ref: string, where: string): { targets: TcpTarget[]; total: number } {
  return weighted(r.route ?? [], ref, where, (d) => ({ host: d.destination.host, subset: d.destination.subset, port: d.destination.port?.number }));
}

/** The VirtualService's tcp routes, or undefined when it has none. */
export function compileTcpRoutes(ref: string, routes: readonly TCPRoute[] | undefined): CompiledTcpVirtualService | undefined {
  if (!routes || routes.length === 0) return undefined;
  return {
    ref,
    routes: routes.map((r, i) => ({
      matches: r.match && r.match.length > 0 ? r.match.map(compileMatch) : undefined,
      ...compileTargets(r, ref, `tcp[${i}]`),
    })),
  };
}

function fits(m: CompiledL4Match, req: TcpRouteRequest): boolean {
  if (m.port !== undefined && m.port !== req.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== req.sourceNamespace) return false;
  if (m.sourceLabels && !Object.entries(m.sourceLabels).every(([k, v]) => req.sourceLabels?.[k] === v)) return false;
  if (m.subnets) {
    const addr = parseAddress(req.destinationIp);
    if (addr === undefined || !inRanges(addr, m.subnets)) return false;
  }
  return true;
}

/** Whether some route could take a connection on `port` (Istio drops routes whose match.port is another). */
export function servesPort(vs: CompiledTcpVirtualService, port: number): boolean {
  return vs.routes.some((r) => r.matches === undefined || r.matches.some((m) => m.port === undefined || m.port === port));
}

/** The target of the first route that fits, weighted by `rng`; undefined when none fits. */
export function pickTcpTarget(vs: CompiledTcpVirtualService, req: TcpRouteRequest, rng: () => number): TcpTarget | undefined {
  const route = vs.routes.find((r) => r.matches === undefined || r.matches.some((m) => fits(m, req)));
  return route && route.targets.length > 0 ? pickWeighted(route.targets, route.total, rng) : undefined;
}

/**
 * `ambit explain`: what the mesh does with one connection or request, and why,
 * computed by the functions the proxies themselves call, never a copy of them:
 *
 * - capture and the L4 path: core/mesh/hop.ts routeOf, asked as ambitd on
 *   FROM's node asks it for a socket its uid owns;
 * - authorization: core/mesh/authorize.ts authorizeL4 (ambitd inbound, the
 *   same-node shortcut, plaintext with no identity) and core/authz evaluate on
 *   the waypoint's policies (atWaypoint), whose Decision names the policy and
 *   the rule index that decided;
 * - the waypoint's route: core/routing RouteTable.route, as waypoint/route.ts
 *   asks it; a weighted route is asked once per destination, with the pick
 *   that lands on it, so every branch is shown;
 * - endpoints: core/routing subsetEndpoints (cli/subset-endpoints.ts), as waypoint/endpoint-pick.ts;
 * - PeerAuthentication: MeshState.mtlsMode, which ambitd's STRICT iptables
 *   rules are built from (strictPorts).
 *
 * The result is a plain value (steps, then one path per endpoint reached),
 * rendered by render.ts or printed as JSON.
 */
import { evaluate, type Decision, type L7Request } from '../../core/authz/index.js';
import type { TypedResource } from '../../core/config/index.js';
import { authorizeL4 } from '../../core/mesh/authorize.js';
import { routeOf, type Hop } from '../../core/mesh/hop.js';
import type { MeshState, ServiceView, WaypointView } from '../../core/mesh/index.js';
import { compileRoutes, type ForwardDecision, type RouteTable } from '../../core/routing/index.js';
import { subsetOf } from '../subset-endpoints.js';
import type { EndpointRecord } from '../../core/store/types.js';
import type { LiveMesh } from '../live-mesh.js';
import type { Destination, Source } from './parties.js';

/** allowed: the bytes reach the application; the others say why they do not. */
export type Verdict = 'allowed' | 'denied' | 'refused' | 'no-route' | 'passthrough';

export type Stage = 'capture' | 'route' | 'waypoint' | 'authorization' | 'http-route' | 'peer-authentication' | 'endpoint';

export interface Step {
  stage: Stage;
  text: string;
  /** Set where this step decides the outcome. */
  verdict?: Verdict;
  /** `namespace/name` and rule index of the AuthorizationPolicy that decided. */
  policy?: string;
  rule?: number;
}

/** The last leg to one endpoint and what happens there. */
export interface EndpointPath {
  address: string;
  port: number;
  node: string;
  service: string;
  /** The subset the route chose, when one did. */
  subset?: string;
  /** Share of requests this leg gets from a weighted route (percent), when there is a choice. */
  weight?: number;
  steps: Step[];
  verdict: Verdict;
}

export interface HttpRequest {
  method: string;
  path: string;
  /** Names lower-case. */
  headers: Record<string, string>;
  /** False: no --path/--method/--header was given, so a waypoint is explained for `GET /`. */
  given: boolean;
}

export interface Explanation {
  from: string;
  to: string;
  steps: Step[];
  paths: EndpointPath[];
  /** allowed only if every path is; otherwise the first path's that is not (or the steps'). */
  verdict: Verdict;
}

const endpointName = (ep: EndpointRecord) => `${ep.namespace}/${ep.service} ${ep.address}:${ep.port} on node ${ep.node}`;

function authzStep(d: Decision, where: string): Step {
  const step: Step = { stage: 'authorization', text: `${where}: ${d.allowed ? 'allowed' : 'denied'} (${d.reason})` };
  if (d.policy !== undefined) {
    step.policy = d.policy;
    step.rule = d.rule;
  }
  if (d.needsWaypoint) step.text += '; a policy here uses HTTP attributes, which act at L4 only as ztunnel reduces them: attach a waypoint to enforce them';
  if (d.dryRun) step.text += `; dry-run policies would have ${d.dryRun.allowed ? 'allowed' : 'denied'} it (${d.dryRun.reason})`;
  if (!d.allowed) step.verdict = 'denied';
  return step;
}

function overall(steps: readonly Step[], paths: readonly EndpointPath[]): Verdict {
  const decided = steps.find((s) => s.verdict !== undefined && s.verdict !== 'allowed');
  if (decided?.verdict) return decided.verdict;
  if (paths.length === 0) return steps.some((s) => s.verdict === 'passthrough') ? 'passthrough' : 'no-route';
  return paths.find((p) => p.verdict !== 'allowed')?.verdict ?? 'allowed';
}

export class Explainer {
  readonly #mesh: LiveMesh;
  #routes: RouteTable | undefined;

  constructor(mesh: LiveMesh) {
    this.#mesh = mesh;
  }

  explain(from: Source, fromWord: string, to: Destination, toWord: string, http: HttpRequest): Explanation {
    const steps: Step[] = [];
    const paths = from.kind === 'workload' && from.endpoint.uid !== undefined ? this.#captured(from, to, http, steps) : this.#plaintext(from, to, steps);
    return { from: fromWord, to: toWord, steps, paths, verdict: overall(steps, paths) };
  }

  /** A socket an enrolled uid owns: ambitd on its node decides, as for a real connection. */
  #captured(from: Extract<Source, { kind: 'workload' }>, to: Destination, http: HttpRequest, steps: Step[]): EndpointPath[] {
    const src = from.endpoint;
    const state = this.#mesh.stateFor(src.node);
    const more = from.others > 0 ? ` (one of ${from.others + 1} endpoints; give its address to pick another)` : '';
    const route = routeOf(state, this.#mesh.trustDomain, { destination: { address: to.address, port: to.port }, owner: { uid: src.uid! } });
    if (route.kind !== 'forward') {
      steps.push({
        stage: 'capture',
        verdict: 'passthrough',
        text: `${endpointName(src)}${more}: ambitd on ${src.node} does not tunnel ${to.address}:${to.port} (not a mesh destination on that port): it connects as asked, outside the mesh`,
      });
      return [];
    }
    steps.push({
      stage: 'capture',
      text: `${endpointName(src)}${more}: ambitd on ${src.node} captures it (uid ${src.uid} owns the socket) and speaks as ${route.sourceIdentity}`,
    });
    steps.push({
      stage: 'route',
      text: `to ${route.service.host}: ${route.hops.length} hop${route.hops.length === 1 ? '' : 's'} (${[...new Set(route.hops.map((h) => h.kind))].join(', ')})${route.balanceKey ? ', load-balanced' : ''}`,
    });
    const sourceIp = state.peerFor(src).host;
    const waypoints = route.hops.filter((h) => h.kind === 'waypoint');
    // routeOf gives waypoint hops only for a VIP's service (core/mesh/hop.ts destinationOf).
    const service = state.serviceByVip(to.address);
    if (waypoints.length > 0 && service) return this.#viaWaypoint(state, src, route.sourceIdentity, sourceIp, to, service, http, steps);
    return route.hops.map((hop) => this.#hop(state, src, route.sourceIdentity, hop));
  }

  /** One hop ambitd dials straight (no waypoint). */
  #hop(state: MeshState, src: EndpointRecord, identity: string, hop: Hop): EndpointPath {
    const base = { address: hop.address, port: hop.port };
    switch (hop.kind) {
      case 'tcp':
        return {
          ...base,
          node: '-',
          service: '-',
          verdict: 'allowed',
          steps: [{ stage: 'endpoint', text: `plain TCP from ambitd on ${src.node} to ${hop.address}:${hop.port}, outside the mesh` }],
        };
      case 'resolve':
        return {
          ...base,
          node: '-',
          service: hop.entry.hosts[0] ?? '-',
          verdict: 'allowed',
          steps: [
            {
              stage: 'endpoint',
              text: `ServiceEntry host ${hop.address} is resolved when the connection opens; a mesh workload at that address is tunnelled to, anything else is plain TCP`,
            },
          ],
        };
      case 'local':
        return this.#inbound(hop.endpoint, identity, src.address, `same node: ambitd on ${src.node} authorizes it and connects directly (no tunnel to itself)`);
      case 'hbone':
        return this.#inbound(
          hop.endpoint,
          identity,
          state.peerFor(src).host,
          `HBONE tunnel from ${src.node} to ${hop.peer.node} (${hop.peer.host}:${hop.peer.port}, which must prove ${hop.peerIdentity})`,
        );
      case 'waypoint':
        throw new Error(`waypoint hop ${hop.address}:${hop.port} for ${hop.authority}, which is no service VIP: core/mesh/hop.ts and explain disagree`);
    }
  }

  /** The destination daemon's inbound: authorizeL4 with the identity the tunnel proves. */
  #inbound(ep: EndpointRecord, identity: string, peerIp: string, leg: string): EndpointPath {
    const state = this.#mesh.stateFor(ep.node);
    const d = authorizeL4(state, ep, { identity, ip: peerIp }, ep.address);
    const steps: Step[] = [
      { stage: 'endpoint', text: leg },
      { stage: 'peer-authentication', text: `PeerAuthentication ${state.mtlsMode(ep)} on port ${ep.port}: mTLS is accepted in every mode` },
      authzStep(d, `ambitd on ${ep.node} (L4, as ${identity})`),
    ];
    return { address: ep.address, port: ep.port, node: ep.node, service: `${ep.namespace}/${ep.service}`, steps, verdict: d.allowed ? 'allowed' : 'denied' };
  }

  #table(state: MeshState): RouteTable {
    this.#routes ??= compileRoutes(state.typed.of('VirtualService'), state.typed.of('DestinationRule'), { domain: this.#mesh.domain });
    return this.#routes;
  }

  #viaWaypoint(
    state: MeshState,
    src: EndpointRecord,
    identity: string,
    sourceIp: string,
    to: Destination,
    service: ServiceView,
    http: HttpRequest,
    steps: Step[],
  ): EndpointPath[] {
    const waypoints = state.waypointsFor(service);
    const wp = waypoints[0]!;
    const wpIdentity = state.identityOf(wp.endpoint);
    steps.push({
      stage: 'waypoint',
      text: `HBONE to the waypoint of ${service.fqdn}: ${waypoints.map((w) => `${w.endpoint.address}:${w.endpoint.port} on ${w.info.node}`).join(', ')} (as ${wpIdentity}); it sees ${identity}`,
    });
    const table = this.#table(state);
    const fqdn = service.fqdn;
    const policies = state.policies.forWorkload({ namespace: service.record.namespace, serviceName: service.record.name, atWaypoint: true });
    if (!http.given && table.tcpOnly(fqdn, to.port)) {
      // As waypoint/tcp-proxy.ts: the served service's policies on the connection, then its tcp routes.
      const d = evaluate(policies, { sourcePrincipal: identity, sourceIp, destinationIp: to.address, destinationPort: to.port });
      steps.push(authzStep(d, 'waypoint (TCP)'));
      return d.allowed ? this.#waypointTcp(state, table, src, wp, fqdn, to, steps) : [];
    }
    const host = `${service.record.name}:${to.port}`;
    if (!http.given) steps.push({ stage: 'waypoint', text: 'explained as the HTTP request GET / (give --path, --method or --header for another)' });
    const request: L7Request = {
      sourcePrincipal: identity,
      sourceIp,
      destinationIp: to.address,
      destinationPort: to.port,
      method: http.method,
      path: http.path,
      host,
      headers: { host, ...http.headers },
    };
    const d = evaluate(policies, request);
    steps.push(authzStep(d, `waypoint (L7, ${http.method} ${http.path})`));
    if (!d.allowed) return [];
    const routeRequest = {
      host,
      port: to.port,
      method: http.method,
      path: http.path,
      headers: request.headers,
      service: fqdn,
      sourceNamespace: src.namespace,
      sourceIp,
      sourceLabels: state.sourceLabels(identity, sourceIp),
    };
    const first = table.route(routeRequest, () => 0);
    if (first.kind === 'notFound') {
      steps.push({ stage: 'http-route', verdict: 'no-route', text: `VirtualService ${first.virtualService} applies but none of its routes matches: 404 (NR)` });
      return [];
    }
    if (first.kind === 'direct') {
      steps.push({ stage: 'http-route', verdict: 'allowed', text: `answered by the waypoint itself: directResponse ${first.status}` });
      return [];
    }
    if (first.kind === 'redirect') {
      steps.push({ stage: 'http-route', verdict: 'allowed', text: `answered by the waypoint itself: redirect ${first.status} to ${first.location}` });
      return [];
    }
    const weights = first.virtualService === undefined ? [] : weightsOf(state, first.virtualService, first.routeIndex);
    const name =
      first.virtualService === undefined
        ? 'no VirtualService applies: the default route'
        : `VirtualService ${first.virtualService} http[${first.routeIndex}]${first.routeName ? ` (${first.routeName})` : ''}`;
    steps.push({ stage: 'http-route', text: name + (first.fault ? `; fault injection: ${faultText(first)}` : '') });
    // Each weighted destination once, asked with the pick that lands inside its share.
    const decisions: { decision: ForwardDecision; weight: number | undefined }[] = [];
    if (weights.length <= 1) decisions.push({ decision: first, weight: undefined });
    else {
      const total = weights.reduce((a, b) => a + b, 0);
      let upTo = 0;
      for (const w of weights) {
        const at = (upTo + w / 2) / total;
        upTo += w;
        const decision = table.route(routeRequest, () => at);
        if (decision.kind === 'route') decisions.push({ decision, weight: (100 * w) / total });
      }
    }
    return decisions.flatMap(({ decision, weight }) => this.#waypointUpstreams(state, wp, wpIdentity, decision, weight));
  }

  #waypointTcp(state: MeshState, table: RouteTable, src: EndpointRecord, wp: WaypointView, fqdn: string, to: Destination, steps: Step[]): EndpointPath[] {
    const sourceIp = state.peerFor(src).host;
    const d = table.routeTcp({
      service: fqdn,
      port: to.port,
      destinationIp: to.address,
      sourceNamespace: src.namespace,
      ...(state.sourceLabels(state.identityOf(src), sourceIp) ? { sourceLabels: state.sourceLabels(state.identityOf(src), sourceIp) } : {}),
    });
    steps.push({
      stage: 'http-route',
      text: d.virtualService ? `TCP: VirtualService ${d.virtualService} tcp route` : 'TCP: no tcp route applies: the service itself',
    });
    const as: ForwardDecision = {
      kind: 'route',
      virtualService: d.virtualService,
      routeName: undefined,
      routeIndex: undefined,
      destination: d.destination,
      policy: d.policy,
      rewrite: undefined,
      requestHeaders: [],
      responseHeaders: [],
      timeoutMs: 0,
      retries: undefined,
      fault: undefined,
      mirrors: [],
    };
    return this.#waypointUpstreams(state, wp, state.identityOf(wp.endpoint), as, undefined);
  }

  /** The endpoints of the chosen cluster, and each one's inbound daemon authorizing the waypoint. */
  #waypointUpstreams(state: MeshState, wp: WaypointView, wpIdentity: string, d: ForwardDecision, weight: number | undefined): EndpointPath[] {
    const { host, subset, port } = d.destination;
    const cluster = `${host}${subset ? ` subset ${subset}` : ''} port ${port}`;
    const unrouted = (text: string): EndpointPath[] => [
      {
        address: '-',
        port,
        node: '-',
        service: host,
        ...(subset === undefined ? {} : { subset }),
        ...(weight === undefined ? {} : { weight }),
        verdict: 'no-route',
        steps: [{ stage: 'http-route', verdict: 'no-route', text: `${cluster}: ${text}` }],
      },
    ];
    if (!d.policy) return unrouted(`no DestinationRule defines subset ${subset}: 503 (NC)`);
    const labels = d.policy.subsetLabels;
    const chosen = subsetOf(
      (state.serviceByName(host)?.endpoints ?? []).filter((ep) => ep.port === port),
      labels,
    );
    if (chosen.length === 0) return unrouted(`no endpoint${labels ? ` has labels ${labelText(labels)}` : ''}: 503 (UH)`);
    const wpNode = state.peerFor(wp.endpoint).host;
    return chosen.map((ep) => ({
      ...this.#inbound(ep, wpIdentity, wpNode, `${cluster}: the waypoint tunnels to ${ep.node} (HBONE)`),
      ...(subset === undefined ? {} : { subset }),
      ...(weight === undefined ? {} : { weight }),
    }));
  }

  /** Not captured (outside the mesh, or enrolled with no Unix user): plaintext straight to the endpoint. */
  #plaintext(from: Source, to: Destination, steps: Step[]): EndpointPath[] {
    const address = from.kind === 'outside' ? from.address : from.endpoint.address;
    steps.push({
      stage: 'capture',
      text:
        from.kind === 'outside'
          ? `${address} is not an enrolled workload: no ambitd captures its connections, they arrive as plaintext`
          : `${endpointName(from.endpoint)} was enrolled without a Unix user: its connections are not captured and arrive as plaintext`,
    });
    let targets: EndpointRecord[];
    if (to.service && to.address === to.service.record.vip) {
      steps.push({
        stage: 'route',
        verdict: 'no-route',
        text: `${to.address} is the VIP of ${to.service.fqdn}: only ambitd routes a VIP, for the workloads it captures; dialled directly, its endpoints would do this:`,
      });
      targets = to.service.endpoints.filter((ep) => ep.port === to.port);
    } else {
      const ep = this.#mesh.stateFor(this.#anyNode()).endpointAt(to.address, to.port);
      if (!ep) {
        steps.push({ stage: 'route', verdict: 'passthrough', text: `${to.address}:${to.port} is no mesh workload: the mesh is not involved` });
        return [];
      }
      targets = [ep];
    }
    return targets.map((ep) => this.#plaintextInbound(ep, address));
  }

  /** STRICT: ambitd's iptables rules drop it; otherwise authorizeL4 with no identity, as the plaintext inbound path asks. */
  #plaintextInbound(ep: EndpointRecord, sourceIp: string): EndpointPath {
    const state = this.#mesh.stateFor(ep.node);
    const mode = state.mtlsMode(ep);
    const base = { address: ep.address, port: ep.port, node: ep.node, service: `${ep.namespace}/${ep.service}` };
    if (mode === 'STRICT') {
      return {
        ...base,
        verdict: 'refused',
        steps: [
          {
            stage: 'peer-authentication',
            verdict: 'refused',
            text: `PeerAuthentication STRICT on port ${ep.port}: ambitd on ${ep.node} refuses plaintext (its iptables rules drop it); only mTLS from a mesh workload gets in`,
          },
        ],
      };
    }
    const d = authorizeL4(state, ep, { identity: undefined, ip: sourceIp }, ep.address);
    return {
      ...base,
      verdict: d.allowed ? 'allowed' : 'denied',
      steps: [
        { stage: 'peer-authentication', text: `PeerAuthentication ${mode} on port ${ep.port}: plaintext is accepted, with no principal` },
        authzStep(d, `ambitd on ${ep.node} (L4, plaintext from ${sourceIp})`),
      ],
    };
  }

  #anyNode(): string {
    return this.#mesh.nodes[0]?.name ?? '';
  }
}

/** The weights of a VirtualService route's destinations (what the pick divides), from the applied document. */
function weightsOf(state: MeshState, ref: string, index: number | undefined): number[] {
  if (index === undefined) return [];
  const vs = state.typed.of('VirtualService').find((v: TypedResource<'VirtualService'>) => `${v.metadata.namespace}/${v.metadata.name}` === ref);
  const dests = vs?.spec.http?.[index]?.route ?? [];
  if (dests.length <= 1) return [];
  // A 0-weight destination is never picked when there are others (core/routing/weights.ts).
  return dests.map((d) => d.weight ?? 0).filter((w) => w > 0);
}

function faultText(d: ForwardDecision): string {
  const f = d.fault!;
  const parts: string[] = [];
  if (f.delayMs > 0) parts.push(`delay ${f.delayMs} ms for ${f.delayPercent}%`);
  if (f.abortStatus !== undefined) parts.push(`abort ${f.abortStatus} for ${f.abortPercent}%`);
  return parts.join(', ');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

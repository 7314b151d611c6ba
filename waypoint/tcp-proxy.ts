/**
 * Connections that are not HTTP, proxied as TCP the way Istio's waypoint
 * does with Envoy's tcp_proxy: L4 authorization (the service's policies
 * read at L4), the VirtualService's tcp route or the service itself, an
 * endpoint from the cluster's balancer (unhealthy ones skipped), one new
 * HBONE stream to it counted against tcp.maxConnections (past it the
 * connection is refused, as Envoy's tcp_proxy has no pending queue), and
 * the bytes spliced both ways. A refusal resets the caller's tunnel, which
 * its daemon turns into a TCP RST. Istio's istio_tcp_* metrics count it all.
 */
import type { Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { evaluate } from '../core/authz/index.js';
import { H2_CONNECT_ERROR, resetStream, splice } from '../core/hbone/index.js';
import type { Logger } from '../core/logging.js';
import { namespaceOf, type Caller } from './caller.js';
import type { Clusters } from './clusters.js';
import type { Upstream, WaypointConfig } from './config.js';
import { clusterEndpoints, pickEndpoint } from './endpoint-pick.js';
import type { ServiceView } from './mesh-view.js';
import type { WaypointMetrics } from './metrics.js';
import { tcpLabels } from '../core/telemetry/labels.js';
import { countTcpClosed, countTcpOpened, tcpAttributes, tcpSeries } from '../core/telemetry/tcp-series.js';
import type { TcpDecision } from '../core/routing/index.js';

export interface TcpProxyDeps {
  config: () => WaypointConfig;
  clusters: Clusters;
  /** Opens the HBONE stream to an endpoint. */
  dial: (upstream: Upstream) => Promise<Duplex>;
  metrics: WaypointMetrics;
  log: Logger;
  rng?: () => number;
}

export class TcpProxy {
  readonly #d: TcpProxyDeps;

  constructor(deps: TcpProxyDeps) {
    this.#d = deps;
  }

  /** Proxies the caller's tunnel `downstream` (already answered 200) for `service` on `port`. */
  async handle(downstream: Duplex, caller: Caller, service: ServiceView, port: number): Promise<void> {
    const stream = downstream as Http2Stream;
    const config = this.#d.config();
    const vip = service.record.vip ?? '';
    let decision: TcpDecision | undefined;
    let upstream: Upstream | undefined;
    // Built once per connection, when it is refused or spliced, with the served service's Telemetry overrides; its close counts the same series.
    const telemetry = config.telemetryFor(service.fqdn);
    const series = (flag: string) =>
      tcpSeries(tcpLabels(config.trafficFacts(caller, decision?.destination.host ?? service.fqdn, upstream), flag), telemetry, tcpAttributes(true));
    const { tcp } = this.#d.metrics;
    const refuse = (flag: string): void => {
      const refused = series(flag);
      countTcpOpened(tcp, refused);
      // Nothing crossed: its close counts, its bytes do not.
      if (refused.TCP_CLOSED_CONNECTIONS) tcp.closed.inc(refused.TCP_CLOSED_CONNECTIONS);
      resetStream(stream, H2_CONNECT_ERROR);
    };

    const policies = config.policiesFor(service.fqdn);
    if (policies && !evaluate(policies, { sourcePrincipal: caller.principal, sourceIp: caller.address, destinationIp: vip, destinationPort: port }).allowed) {
      return refuse('RBAC');
    }
    decision = config.routes.routeTcp(
      {
        service: service.fqdn,
        port,
        destinationIp: vip,
        sourceNamespace: namespaceOf(caller.principal),
        sourceLabels: config.sourceLabels(caller.principal, caller.address),
      },
      this.#d.rng,
    );
    const policy = decision.policy;
    if (!policy) return refuse('NC');
    const cluster = this.#d.clusters.for(policy);
    const endpoints = clusterEndpoints(this.#d.clusters, cluster, policy, config.endpoints(decision.destination.host, decision.destination.port));
    const ep = pickEndpoint(cluster, endpoints, { request: { headers: {}, path: '/', sourceIp: caller.address } });
    if (!ep) return refuse('UH');
    upstream = config.upstream(ep)!;
    const slot = cluster.pool.claimSlot();
    if (typeof slot === 'string') {
      this.#d.metrics.overflows.inc({ cluster: policy.cluster, reason: slot });
      return refuse('UO');
    }
    cluster.load.begin(ep.key);
    const release = (): void => {
      cluster.load.end(ep.key);
      slot();
    };
    let up: Http2Stream;
    try {
      up = (await this.#d.dial(upstream)) as Http2Stream;
    } catch (err) {
      this.#d.log.debug({ err, endpoint: upstream.authority }, 'TCP proxy could not reach the endpoint');
      if (cluster.outlier?.report(ep.key, { error: 'connect-failure' })) this.#d.metrics.ejections.inc({ cluster: policy.cluster });
      release();
      return refuse('UF');
    }
    cluster.outlier?.report(ep.key, { status: 200 });
    if (stream.destroyed || stream.closed) {
      release();
      up.destroy();
      return;
    }
    const open = series('-');
    countTcpOpened(tcp, open);
    splice(stream, up, (r) => {
      release();
      // The open's labels, not the close's flags (UC, DC): a series whose opens and closes differ never returns to 0 open.
      countTcpClosed(tcp, open, r.aToB, r.bToA);
      if (r.error)
        this.#d.log.debug(
          { side: r.error.side === 'a' ? 'downstream' : 'upstream', code: r.error.code, endpoint: upstream?.authority },
          'TCP proxy connection reset',
        );
    });
  }
}

/**
 * ambitd: one per host. Wires the store watcher (config snapshot), the mesh
 * state, identity (node and workload certificates), capture rules, outbound
 * 15001, inbound HBONE 15008, inbound plaintext 15006, DNS 15053, admin 15000
 * and metrics 15020.
 * Data flows one way: store -> snapshot -> state -> proxies. When the store is
 * unreachable every part keeps serving the last good state.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AmbitError, isAmbitError } from '../core/errors.js';
import type { CertStatus } from '../core/identity/client/cert-manager.js';
import type { TrustBundle } from '../core/identity/bundle.js';
import { signatureRefusals } from '../core/identity/trust/refusals.js';
import { sequenceWriteFailures } from '../core/identity/manifest/sequence-file.js';
import { SignedConfigGate } from './signed-config.js';
import { PeerRevocations } from '../core/identity/revocation/peer-check.js';
import { EMPTY_REVOCATIONS } from '../core/identity/revocation/list.js';
import type { ConfigDumpStatus, TunnelsReport } from '../core/status/index.js';
import { HboneClient, type HboneServer, type TlsIdentity } from '../core/hbone/index.js';
import { describeTarget, Watcher, type Store } from '../core/store/index.js';
import type { Snapshot } from '../core/store/types.js';
import { DEFAULT_VIP_CIDR, inRange } from '../core/vip/allocator.js';
import { packageVersion } from '../core/version.js';
import { MeshDnsServer } from './dns/server.js';
import { ConnectionLimiter } from './connection-limiter.js';
import { adminHandler, listenHttp, metricsHandler } from './admin.js';
import { RoundRobinBalancer } from './balancer.js';
import { Capture } from './capture.js';
import type { DaemonConfig } from '../core/config/daemon-settings.js';
import { failMode } from '../core/config/fail-mode.js';
import { daemonListener } from '../core/config/daemon-listeners.js';
import { InheritedSockets } from '../core/net/inherited-sockets.js';
import { createInbound } from './inbound.js';
import { InboundPlaintext } from './inbound-plaintext.js';
import { TunnelTracing } from './tunnel-tracing.js';
import { formatAuthority } from '../core/hbone/authority.js';
import { MemoryRelease, processMemoryIo } from './memory-release.js';
import { DaemonMetrics } from './metrics.js';
import { Outbound } from './outbound.js';
import { MeshState, NodeList } from '../core/mesh/index.js';
import { WaypointSupervisor } from './waypoints.js';
import { connectionTap } from './connection-tap.js';
import { nodeTelemetryProblems } from './workload-telemetry.js';

/** What the daemon needs from identity: certificates it can present, kept fresh. */
export interface DaemonIdentity {
  /** The node certificate, presented by inbound HBONE. */
  node(): TlsIdentity;
  /** A workload's certificate, presented by outbound HBONE for that source. */
  workload(spiffeId: string): TlsIdentity | Promise<TlsIdentity>;
  /** The identities enrolled on this node: certificates to obtain and renew. */
  want(spiffeIds: string[]): void;
  /** Called when the node certificate or the trust bundle changes. */
  onNodeRotated(listener: () => void): void;
  /** Called when a workload certificate is renewed (new sessions use it). */
  onWorkloadRotated(listener: (spiffeId: string) => void): void;
  describe(): CertStatus[];
  /** The trust bundle this node holds (verified, never the store's word): what operator signatures are checked against. */
  trustBundle(): TrustBundle;
  stop(): Promise<void>;
}

const HEARTBEAT_MS = 10_000;
/** How long a stop waits for the last spans to be exported. */
const TRACING_FLUSH_MS = 2_000;
const NODE_TTL_S = 45;
/** How often the daemon reports its tunnels to the store for `ambit tunnels`. */
const STATUS_MS = 2_000;

export class Daemon {
  readonly metrics = new DaemonMetrics();
  /** Connections to this node's workloads for `ambit tap` (admin /tap). */
  readonly #tap = connectionTap(this.metrics.tapDropped);
  /** Replaced only by reconfigure (SIGHUP), with restart-only settings unchanged. */
  #config: DaemonConfig;
  readonly #log: Logger;
  readonly #identity: DaemonIdentity;
  readonly #store: Store;
  readonly #watcher: Watcher;
  readonly #capture: Capture;
  readonly #balancer = new RoundRobinBalancer();
  readonly #tracing: TunnelTracing;
  readonly #hbone: HboneClient;
  readonly #waypoints: WaypointSupervisor;
  #state: MeshState | undefined;
  readonly #nodes: NodeList;
  #vipCidr = DEFAULT_VIP_CIDR;
  #inbound: HboneServer | undefined;
  /** Gives memory back after a burst of closed connections; both proxies feed it. */
  #memory: MemoryRelease | undefined;
  #outbound: Outbound | undefined;
  #plaintext: InboundPlaintext | undefined;
  #dns: MeshDnsServer | undefined;
  /** ConnectionLimit's counts, one for both inbound paths: a source's HBONE and plaintext connections add up. */
  readonly #connectionLimiter = new ConnectionLimiter();
  #http: Server[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #status: NodeJS.Timeout | undefined;
  #rebuild: NodeJS.Timeout | undefined;
  #stopping = false;
  /** What the last snapshot's Telemetry could not apply for this node's workloads: each said once, when it appears. */
  #telemetryProblems = new Set<string>();
  #gate: SignedConfigGate | undefined;
  readonly #revocations: PeerRevocations;
  /** What systemd passed (socket activation); without it every listener binds its port itself. */
  readonly #sockets: InheritedSockets;

  constructor(config: DaemonConfig, deps: { store: Store; identity: DaemonIdentity; sockets?: InheritedSockets }, log: Logger) {
    this.#config = config;
    this.#sockets = deps.sockets ?? new InheritedSockets([], log.child({ component: 'sockets' }));
    this.#identity = deps.identity;
    this.#log = log;
    this.#store = deps.store;
    this.#nodes = new NodeList(deps.store);
    const identity = deps.identity;
    this.#watcher = new Watcher({ ...config.store });
    this.#capture = new Capture(log.child({ component: 'capture' }));
    this.#tracing = new TunnelTracing(this.metrics, log.child({ component: 'tracing' }));
    this.#revocations = new PeerRevocations(this.metrics, log.child({ component: 'revocation' }));
    this.#hbone = new HboneClient({
      getSecureContext: (source) => identity.workload(source),
      checkPeer: this.#revocations.outbound,
      onHandshakeFailed: ({ reason }) => this.metrics.tlsHandshakeFailures.inc({ direction: 'outbound', reason }),
      log: log.child({ component: 'hbone' }),
    });
    identity.onWorkloadRotated((id) => this.#hbone.rotate(id));
    this.metrics.certExpiryFrom(() => identity.describe());
    this.#waypoints = new WaypointSupervisor({
      workload: (id) => identity.workload(id),
      store: deps.store,
      storeOptions: config.store,
      dir: join(config.identity.dir, 'waypoints'),
      nodeDir: config.identity.dir,
      nodeName: config.node.name,
      trustDomain: config.mesh.trustDomain,
      domain: config.mesh.domain,
      log: log.child({ component: 'waypoints' }),
      metrics: this.metrics,
      metricsAddress: config.waypointMetricsAddress,
    });
    identity.onWorkloadRotated((id) => this.#waypoints.rotated(id));
    identity.onNodeRotated(() => this.#waypoints.bundleRotated());
  }

  get state(): MeshState {
    if (!this.#state) throw new Error('daemon state requested before the first snapshot');
    return this.#state;
  }

  async start(): Promise<void> {
    const config = this.#config;
    this.#sayFailMode();
    const http = await Promise.all([
      listenHttp(adminHandler(this.#adminSources()), config.ports.admin, config.adminAddress),
      listenHttp(metricsHandler(this.metrics.registry, { ready: () => this.#readiness() }), config.ports.metrics, config.metricsAddress),
    ]);
    this.#http.push(...http);
    this.metrics.registry.registerMetric(signatureRefusals);
    this.metrics.registry.registerMetric(sequenceWriteFailures);
    this.#gate = await SignedConfigGate.open(config.identity.dir, this.#log.child({ component: 'signed-config' }));
    this.#watcher.on('snapshot', (_s, info) => {
      if (info.resync) this.metrics.storeResyncs.inc();
      this.#scheduleRebuild();
    });
    this.#watcher.on('change', () => this.#scheduleRebuild());
    this.#watcher.on('connected', () => this.metrics.storeConnected.set(1));
    this.#watcher.on('disconnected', () => this.metrics.storeConnected.set(0));
    this.#log.info({ store: config.store.url }, 'waiting for the first config snapshot');
    const first = await this.#watcher.ready();
    await this.#beat();
    this.#vipCidr = (await this.#store.meshSettings().catch(() => ({ vipCidr: DEFAULT_VIP_CIDR }))).vipCidr;
    this.#rebuildNow(first);
    if (!this.#state) {
      throw new AmbitError(
        'EIDENTITY_MANIFEST_INVALID',
        `the store's config (revision ${first.revision}) is not what an operator signed, and there is no earlier good state to serve; see the log above`,
      );
    }
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();

    this.#memory = new MemoryRelease(processMemoryIo(this.#log.child({ component: 'memory' })));
    this.#inbound = createInbound({
      state: () => this.state,
      identity: this.#identity.node(),
      checkPeer: this.#revocations.inbound,
      limits: config.hbone,
      metrics: this.metrics,
      tracing: this.#tracing,
      memory: this.#memory,
      tap: this.#tap,
      limiter: this.#connectionLimiter,
      log: this.#log.child({ component: 'inbound' }),
    });
    this.#identity.onNodeRotated(() => this.#inbound?.setSecureContext(this.#identity.node()));
    const listener = (name: string) => daemonListener(config.ports, name);
    const [inbound] = this.#sockets.targets(listener('inbound'), 'tcp');
    await this.#inbound.listen(inbound!);
    this.#outbound = new Outbound({
      state: () => this.state,
      hbone: this.#hbone,
      balancer: this.#balancer,
      metrics: this.metrics,
      tracing: this.#tracing,
      memory: this.#memory,
      limiter: this.#connectionLimiter,
      log: this.#log.child({ component: 'outbound' }),
      trustDomain: config.mesh.trustDomain,
      port: config.ports.outbound,
    });
    await this.#outbound.listen(this.#sockets.targets(listener('outbound'), 'tcp'));
    this.#plaintext = new InboundPlaintext({
      state: () => this.state,
      port: config.ports.inboundPlaintext,
      metrics: this.metrics,
      memory: this.#memory,
      tap: this.#tap,
      limiter: this.#connectionLimiter,
      log: this.#log.child({ component: 'inbound-plaintext' }),
    });
    await this.#plaintext.listen(this.#sockets.targets(listener('inbound-plaintext'), 'tcp'));
    this.#dns = new MeshDnsServer({
      port: config.ports.dns,
      address: '127.0.0.1',
      listen: { udp: this.#sockets.targets(listener('dns'), 'udp')[0], tcp: this.#sockets.targets(listener('dns'), 'tcp')[0] },
      domain: config.mesh.domain,
      ...(config.dns.upstreams.length > 0 ? { upstreams: config.dns.upstreams } : {}),
      resolve: (name) => {
        const vip = this.#state?.serviceByName(name)?.record.vip;
        if (vip) return { addresses: [vip] };
        const entry = this.#state?.serviceEntryAddresses(name);
        return entry ? { addresses: entry } : undefined;
      },
      metrics: { onQuery: (q) => this.metrics.dnsQueries.inc({ type: q.type, result: q.result }) },
    });
    await this.#dns.start();
    await this.#applyCapture();
    this.#status = setInterval(() => void this.#publishStatus(), STATUS_MS);
    this.#status.unref();
    this.#log.info({ node: config.node.name, address: config.node.address, revision: this.state.revision }, 'ambitd ready');
  }

  /**
   * SIGHUP: run with `config` from now on. daemon/reload.ts hands over only
   * settings that can change live; the drain deadline and capture.failOpen are
   * read at stop time, so adopting the object is enough for them.
   */
  async reconfigure(config: DaemonConfig): Promise<void> {
    const before = this.#config;
    this.#config = config;
    if (failMode(before.capture).mode !== failMode(config.capture).mode) this.#sayFailMode();
    if (JSON.stringify(before.dns.upstreams) !== JSON.stringify(config.dns.upstreams))
      await this.#dns?.setUpstreams(config.dns.upstreams.length > 0 ? config.dns.upstreams : undefined);
    if (before.capture.enabled && !config.capture.enabled) await this.#capture.remove();
    else await this.#applyCapture();
  }

  /** Drain: stop accepting, let open connections finish up to the deadline, then close. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#status);
    clearTimeout(this.#rebuild);
    const deadline = this.#config.drainTimeoutMs;
    this.#log.info({ deadlineMs: deadline }, 'draining');
    const waypoints = this.#waypoints.close();
    const mode = failMode(this.#config.capture);
    // Fail closed: the rules stay, pointing at the port this process is about to close, so nothing captured goes out in plaintext.
    const failOpen = mode.mode === 'fail-open';
    if (failOpen) await this.#capture.stopCapturing().catch((err: unknown) => this.#log.error({ err }, 'could not stop capturing'));
    else if (mode.mode === 'fail-closed') this.#log.info(`capture rules left in place: ${mode.summary}`);
    await Promise.allSettled([
      this.#outbound?.close(deadline),
      this.#plaintext?.close(deadline),
      this.#inbound?.close(deadline),
      this.#dns?.close(),
      waypoints,
    ]);
    if (failOpen) await this.#capture.remove().catch((err: unknown) => this.#log.error({ err }, 'could not remove capture rules'));
    this.#hbone.close();
    this.#memory?.stop();
    // The drained connections' spans still go out, but a backend that does not answer must not hold the stop past drainTimeout's margin.
    await Promise.race([
      this.#tracing.shutdown().catch((err: unknown) => this.#log.warn({ err }, 'tracing shutdown failed')),
      new Promise((resolve) => setTimeout(resolve, TRACING_FLUSH_MS).unref()),
    ]);
    // A tap's stream would hold its admin server open: the taps end first.
    this.#tap.close();
    await Promise.allSettled(this.#http.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await this.#watcher.close();
    await this.#identity.stop();
    this.#log.info('stopped');
  }

  /** Fail open is a weaker mesh than the operator may think they run: said loudly, at start and whenever a reload changes it. */
  #sayFailMode(): void {
    const mode = failMode(this.#config.capture);
    if (mode.mode === 'fail-open') this.#log.warn({ failOpen: true }, `${mode.summary}; delete capture.failOpen from ambitd.yaml to fail closed`);
    else this.#log.info({ failOpen: false }, mode.summary);
  }

  async #beat(): Promise<void> {
    const { node, ports } = this.#config;
    try {
      await this.#store.heartbeatNode({ name: node.name, address: node.address, hbonePort: ports.inbound, version: packageVersion() }, NODE_TTL_S);
      if ((await this.#nodes.refresh()) && this.#state) this.#scheduleRebuild();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'heartbeat failed; serving the last known state');
    }
  }

  /** What this daemon's tunnels look like now: the admin API's /tunnels and `ambit tunnels`. */
  tunnels(): TunnelsReport {
    const inbound = this.#inbound?.stats();
    return {
      node: this.#config.node.name,
      at: Date.now(),
      outbound: this.#hbone.tunnels(),
      inbound: inbound && {
        sessionsActive: inbound.sessionsActive,
        streamsActive: inbound.streamsActive,
        streamsOpen: inbound.streamsOpen,
        streamsTotal: inbound.streamsTotal,
        upstreamSockets: inbound.upstreamSockets,
        handshakesPending: inbound.handshakesPending,
        handshakeFailuresByReason: inbound.handshakeFailuresByReason,
        sessionsLost: inbound.sessionsLost,
        handshakeFailures: inbound.handshakeFailures,
        rejections: inbound.rejections,
        peers: Object.fromEntries(inbound.peers),
      },
      ejected: this.#balancer.ejected(),
      waypoints: this.#waypoints.status(),
    };
  }

  async #publishStatus(): Promise<void> {
    const tunnels = this.tunnels();
    const inbound = this.#inbound?.stats();
    if (inbound) {
      this.metrics.upstreamSockets.set(inbound.upstreamSockets);
      this.metrics.inboundStreamsOpen.set(inbound.streamsOpen);
      this.metrics.handshakesPending.set(inbound.handshakesPending);
    }
    this.metrics.tunnelSessions.set({ direction: 'outbound' }, tunnels.outbound.length);
    this.metrics.tunnelStreams.set(
      { direction: 'outbound' },
      tunnels.outbound.reduce((n, t) => n + t.streamsActive, 0),
    );
    // The waypoints this daemon runs tunnel on to endpoints themselves; `ambit tunnels` shows those too.
    tunnels.outbound.push(...(await this.#waypoints.tunnels()));
    try {
      await this.#store.publishNodeStatus(this.#config.node.name, { tunnels, certs: this.#identity.describe() }, Math.ceil((STATUS_MS * 5) / 1000));
    } catch {
      // The store is down: the heartbeat already says so; the report resumes with it.
    }
  }

  #scheduleRebuild(): void {
    // Coalesce bursts of changes (an apply of many documents) into one rebuild;
    // before the first state, start() builds it.
    if (this.#rebuild || !this.#state) return;
    this.#rebuild = setTimeout(() => {
      // Nodes too: a WorkloadEntry is a mesh workload only if its address is a node's, and a
      // node that joined since the last heartbeat must count. A store outage keeps the last list.
      void this.#nodes
        .refresh()
        .catch(() => false)
        .then(() => {
          this.#rebuild = undefined;
          const snapshot = this.#watcher.current();
          if (snapshot) this.#rebuildNow(snapshot);
          void this.#applyCapture();
        });
    }, 20);
  }

  #rebuildNow(snapshot: Snapshot): void {
    // Policy and enrollments must be what an operator signed: the store alone may not relax them.
    const verdict = this.#gate?.check(snapshot, this.#identity.trustBundle());
    if (verdict && !verdict.accept) {
      this.metrics.configRejections.inc({ reason: 'EIDENTITY_MANIFEST_INVALID' });
      return;
    }
    // Revocations apply as soon as their manifest is accepted, even if the rest of the snapshot fails below;
    // sessions already open with a newly revoked peer, either way, are cut.
    if (verdict) this.#revocations.enforce(verdict.manifest?.revoked ?? EMPTY_REVOCATIONS, { inbound: this.#inbound, outbound: this.#hbone });
    try {
      this.#state = new MeshState(snapshot, this.#nodes.current, {
        nodeName: this.#config.node.name,
        trustDomain: this.#config.mesh.trustDomain,
        domain: this.#config.mesh.domain,
        hbonePort: this.#config.ports.inbound,
      });
      this.metrics.configRevision.set(snapshot.revision);
      this.metrics.configInvalidResources.set(this.#state.rejected.length);
      for (const r of this.#state.rejected)
        this.#log.warn({ resource: r.key, reason: r.reason, revision: snapshot.revision }, 'stored resource fails validation; left out of the mesh state');
      this.#identity.want(this.#state.localIdentities());
      this.#tracing.update(this.#state);
      this.#sayTelemetryProblems(this.#state);
      this.#waypoints.reconcile(this.#state.localWaypoints());
    } catch (err) {
      // A snapshot the daemon cannot use (e.g. a policy that does not compile) must not take down the last good one.
      this.metrics.configRejections.inc({ reason: isAmbitError(err) ? err.code : 'unexpected' });
      this.#log.error({ err, revision: snapshot.revision }, 'config snapshot rejected; keeping the previous one');
    }
  }

  #sayTelemetryProblems(state: MeshState): void {
    const problems = nodeTelemetryProblems(state);
    for (const p of problems) if (!this.#telemetryProblems.has(p)) this.#log.warn({ problem: p }, `telemetry configuration not applied as written: ${p}`);
    this.#telemetryProblems = new Set(problems);
  }

  async #applyCapture(): Promise<void> {
    if (!this.#config.capture.enabled || !this.#state || this.#stopping) return;
    const state = this.#state;
    try {
      await this.#capture.update({
        uids: state.captureUids(),
        meshCidrs: [
          this.#vipCidr,
          ...state.endpointAddresses().map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`)),
          // Allocated VIPs are in the range already; given ServiceEntry addresses may be anywhere.
          ...state.serviceEntryCidrs().filter((c) => !hostInRange(c, this.#vipCidr)),
        ],
        strictPorts: state.strictPorts(),
        inboundEndpoints: state.localEndpoints().map((ep) => formatAuthority(ep.address, ep.port)),
        inboundPort: this.#config.ports.inboundPlaintext,
        dns: this.#config.capture.dns,
        exemptUid: process.getuid?.() ?? 0,
        outboundPort: this.#config.ports.outbound,
        dnsPort: this.#config.ports.dns,
      });
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'capture rules not applied');
    }
  }

  #readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.#state) reasons.push('no config snapshot yet');
    if (!this.#inbound || !this.#outbound || !this.#plaintext) reasons.push('proxies not listening yet');
    return { ready: reasons.length === 0, reasons };
  }

  #adminSources() {
    return {
      logger: this.#log,
      tap: this.#tap,
      ready: () => this.#readiness(),
      configDump: (): ConfigDumpStatus & Record<string, unknown> => ({
        node: this.#config.node,
        revision: this.#state?.revision,
        // The target (password redacted) and capture options let `ambit doctor` check what this daemon actually uses.
        store: { ...this.#watcher.stats(), target: describeTarget(this.#config.store) },
        capture: { ...this.#config.capture, ...this.#capture.status() },
        services: this.#state?.services().map((s) => ({ name: s.fqdn, vip: s.record.vip, ports: s.record.ports, endpoints: s.endpoints })),
        serviceEntries: this.#state?.serviceEntries().map((e) => ({ ...e, dnsAddresses: Object.fromEntries(e.dnsAddresses) })),
        resources: this.#state?.resources,
      }),
      tunnels: (): TunnelsReport & Record<string, unknown> => ({ ...this.tunnels(), totals: this.#hbone.stats() }),
      certs: () => this.#identity.describe(),
      workloads: () => this.#state?.localEndpoints().map((ep) => ({ ...ep, identity: this.#state?.identityOf(ep), mtls: this.#state?.mtlsMode(ep) })),
    };
  }
}

/** True for a one-address CIDR inside `range` (an allocated VIP, already captured with the range). */
function hostInRange(cidr: string, range: string): boolean {
  const [ip = '', bits] = cidr.split('/');
  return bits === (ip.includes(':') ? '128' : '32') && inRange(ip, range);
}

/**
 * An in-process waypoint on 127.0.0.1 for integration tests: a test PKI, a
 * "peer daemon" HboneServer in front of small HTTP endpoints (each on its
 * own loopback address, all on one port, as enrolled workloads share a
 * service port), a MeshState built from plain store records and Istio
 * resources, the WaypointServer, and a client that calls a service's VIP
 * through HBONE as `productpage`, over HTTP/1.1 or h2c.
 */
import { once } from 'node:events';
import {
  Agent,
  createServer,
  request as httpRequest,
  type ClientRequestArgs,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ExecutionContext } from 'ava';
import type { Resource } from '../../core/config/index.js';
import { HboneClient, HboneServer } from '../../core/hbone/index.js';
import { nodeId } from '../../core/identity/index.js';
import { logger } from '../../core/logging.js';
import type { EndpointRecord, ServiceRecord } from '../../core/store/types.js';
import type { TracingSettings } from '../../core/telemetry/settings.js';
import type { AccessLogEntry } from '../../waypoint/access-log.js';
import { sniffProtocol } from '../../waypoint/protocol.js';
import { WaypointServer } from '../../waypoint/server.js';
import { asHttpSocket } from '../../waypoint/stream-socket.js';
import { readAll } from './hbone-harness.js';
import { makeTestCa, workload, type TestCa } from './test-pki.js';
import { meshState } from './waypoint-mesh.js';

/** Longer than any test's slowest request (3 s endpoints, 1 s timeouts) on a loaded machine. */
const REQUEST_TIMEOUT_MS = 20_000;
export const CALLER = workload('default', 'productpage');
export const WAYPOINT = workload('default', 'reviews-waypoint');
const log = logger('waypoint-test').child({}, { level: process.env.AMBIT_LOG_LEVEL ?? 'warn' });

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An endpoint that answers `<service>-<version>` unless a test gives it a handler. */
export interface EndpointSpec {
  service: string;
  version: string;
  handler?: Handler;
  /** What it speaks: HTTP/1.1 (default), h2c with prior knowledge, or either (told apart by the connection preface). */
  protocol?: 'h1' | 'h2c' | 'both';
  /** HTTP/1.1 Upgrade requests (WebSocket); without it node:http answers them as plain requests. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Not HTTP at all: each TCP connection goes to this (a connection counts as one hit). */
  tcp?: (socket: Socket) => void;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body as it arrived, for byte-for-byte checks. */
  bytes: Buffer;
  trailers: Record<string, string | string[] | undefined>;
  ms: number;
}

export interface RequestOptions {
  service?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  h2?: boolean;
}

export interface WaypointHarness {
  pki: TestCa;
  waypoint: WaypointServer;
  port: number;
  vips: Map<string, string>;
  /** Requests each endpoint saw, by `<service>-<version>`. */
  hits: Map<string, number>;
  accessLog: AccessLogEntry[];
  request(options?: RequestOptions): Promise<Reply>;
  /** A raw HBONE tunnel to the waypoint for `service` (default reviews), as the caller. */
  tunnel(service?: string): Promise<Duplex>;
  /** Swap in new resources (a config reload) without restarting anything; `without`: endpoints (`<service>-<version>`) to leave out. */
  apply(resources: Resource[], without?: string[]): void;
}

const fqdn = (svc: string) => `${svc}.default.svc.cluster.local`;

export interface HarnessOptions {
  rng?: () => number;
  /** The test client keeps its HBONE streams to the waypoint open between requests (default: one per request). */
  clientKeepAlive?: boolean;
  protocolDetectionTimeoutMs?: number;
  /** Where global RateLimit buckets live (a StoreBuckets on a test Redis). */
  rateLimitStore?: import('../../waypoint/ratelimit/buckets.js').Buckets;
  tracing?: TracingSettings;
}

export async function startWaypoint(
  t: ExecutionContext,
  endpoints: EndpointSpec[],
  resources: Resource[],
  opts: HarnessOptions = {},
): Promise<WaypointHarness> {
  const pki = await makeTestCa();
  const hits = new Map<string, number>();
  // Endpoints: 127.0.1.N, one port for all (picked by the first bind).
  let port = 0;
  const records: EndpointRecord[] = [];
  for (const [i, ep] of endpoints.entries()) {
    const name = `${ep.service}-${ep.version}`;
    const address = `127.0.1.${i + 1}`;
    const server = endpointServer(
      ep.tcp
        ? (socket) => {
            hits.set(name, (hits.get(name) ?? 0) + 1);
            ep.tcp!(socket);
          }
        : (ep.protocol ?? 'h1'),
      (req, res) => {
        hits.set(name, (hits.get(name) ?? 0) + 1);
        readAll(req).then(
          (b) => (ep.handler ?? ((_q, s) => s.end(name)))(req, res, b.toString()),
          () => undefined,
        );
      },
      ep.upgrade &&
        ((req, socket, head) => {
          hits.set(name, (hits.get(name) ?? 0) + 1);
          ep.upgrade!(req, socket, head);
        }),
    );
    server.listen(port, address);
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    t.teardown(() => server.stop());
    records.push({
      service: ep.service,
      namespace: 'default',
      node: 'node-b',
      address,
      port,
      serviceAccount: `bookinfo-${ep.service}`,
      labels: { app: ep.service, version: ep.version },
    });
  }
  // The peer daemon: tunnels only to the endpoints above.
  const peer = new HboneServer({
    log,
    identity: await pki.issue(nodeId('cluster.local', 'node-b').uri),
    resolveUpstream: ({ destination }) =>
      records.some((r) => r.address === destination.host && r.port === destination.port)
        ? { host: destination.host, port: destination.port }
        : { refuse: 'not a local workload' },
  });
  const peerPort = (await peer.listen(0, '127.0.0.1')).port;
  const vips = new Map<string, string>();
  const services = new Map<string, ServiceRecord>();
  for (const svc of new Set(endpoints.map((e) => e.service))) {
    const vip = `240.240.0.${10 + vips.size}`;
    vips.set(svc, vip);
    services.set(`default/${svc}`, { name: svc, namespace: 'default', ports: [port], vip });
  }
  let revision = 1;
  // The caller's own enrollment, on the node it tunnels from, so metrics can name its workload (source_workload="productpage-v1").
  const caller: EndpointRecord = {
    service: 'productpage',
    namespace: 'default',
    node: 'node-b',
    address: '127.0.1.250',
    port: 9080,
    serviceAccount: 'productpage',
    labels: { app: 'productpage', version: 'v1' },
  };
  const mesh = (rs: Resource[], without: string[] = []) => {
    const kept = [...records.filter((r) => !without.includes(`${r.service}-${r.labels?.version}`)), caller];
    return meshState({ services, endpoints: kept, peerPort }, rs, revision++);
  };
  const waypointTls = await pki.issue(WAYPOINT);
  const accessLog: AccessLogEntry[] = [];
  const waypoint = new WaypointServer({
    identity: waypointTls,
    principal: WAYPOINT,
    getSecureContext: () => waypointTls,
    services: [...vips.keys()].map(fqdn),
    mesh: mesh(resources),
    accessLog: (e) => accessLog.push(e),
    log,
    retryBackOffMs: 1,
    ...(opts.rng ? { rng: opts.rng } : {}),
    ...(opts.protocolDetectionTimeoutMs !== undefined ? { protocolDetectionTimeoutMs: opts.protocolDetectionTimeoutMs } : {}),
    ...(opts.rateLimitStore ? { rateLimitStore: opts.rateLimitStore } : {}),
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
  const wpPort = (await waypoint.listen(0, '127.0.0.1')).port;
  const callerTls = await pki.issue(CALLER);
  const client = new HboneClient({ getSecureContext: () => callerTls, maxStreamsPerSession: 1000 });
  t.teardown(async () => {
    for (const a of agents.values()) a.destroy();
    client.close();
    await waypoint.close(100);
    await peer.close(100);
  });
  const tunnel = (service: string) =>
    client.connect({ peer: { host: '127.0.0.1', port: wpPort }, authority: `${vips.get(service)}:${port}`, source: CALLER, expectedServerIdentity: WAYPOINT });
  const agents = new Map<string, TunnelAgent>();
  const agentFor = (service: string) => {
    let a = agents.get(service);
    if (!a) agents.set(service, (a = new TunnelAgent(() => tunnel(service), opts.clientKeepAlive ?? false)));
    return a;
  };

  /** A request that never answers fails the test with what it was, instead of hanging the run. */
  async function request(o: RequestOptions = {}): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply in ${REQUEST_TIMEOUT_MS} ms to ${o.method ?? 'GET'} ${o.path ?? '/'} (${o.service ?? 'reviews'})`)),
        REQUEST_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([send(o), limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function send(o: RequestOptions): Promise<Reply> {
    const service = o.service ?? 'reviews';
    const started = Date.now();
    const headers = { host: `${service}:9080`, ...o.headers };
    if (o.h2) {
      const stream = await tunnel(service);
      const session = h2connect(`http://${service}:9080`, { createConnection: () => stream });
      try {
        const req = session.request({ ':method': o.method ?? 'GET', ':path': o.path ?? '/', ':authority': headers.host, ...o.headers });
        req.end(o.body);
        let trailers: Record<string, string | string[] | undefined> = {};
        req.once('trailers', (t: Record<string, string | string[] | undefined>) => (trailers = t));
        const [resHeaders] = (await once(req, 'response')) as [Record<string, string | number>];
        const bytes = await readAll(req);
        const { ':status': status, ...rest } = resHeaders;
        return { status: Number(status), headers: rest as IncomingHttpHeaders, body: bytes.toString(), bytes, trailers, ms: Date.now() - started };
      } finally {
        session.close();
      }
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest({ agent: agentFor(service), host: vips.get(service), port, method: o.method ?? 'GET', path: o.path ?? '/', headers }, (res) => {
        readAll(res).then(
          (b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b.toString(), bytes: b, trailers: res.trailers, ms: Date.now() - started }),
          reject,
        );
      });
      req.on('error', reject);
      req.end(o.body);
    });
  }

  return {
    pki,
    waypoint,
    port,
    vips,
    hits,
    accessLog,
    request,
    tunnel: (service = 'reviews') => tunnel(service),
    apply: (rs, without) => waypoint.update(mesh(rs, without)),
  };
}

type EndpointServer = ReturnType<typeof createTcpServer> & { stop(): Promise<void> };

/**
 * A TCP listener handing each connection to an HTTP/1.1 or an h2c server,
 * or for `both` to whichever the client's first bytes ask for.
 */
function endpointServer(
  protocol: 'h1' | 'h2c' | 'both' | ((socket: Socket) => void),
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  upgrade: EndpointSpec['upgrade'],
): EndpointServer {
  const h1 = createServer(handler);
  if (upgrade) h1.on('upgrade', upgrade);
  const h2 = createH2Server(handler as never);
  const sockets = new Set<Socket>();
  const tcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (typeof protocol === 'function') return protocol(socket);
    if (protocol === 'h1') return void h1.emit('connection', socket);
    if (protocol === 'h2c') return void h2.emit('connection', socket);
    sniffProtocol(socket, (p) => {
      // Both servers must read on JS 'data' events to see the sniffed bytes put back, not take over the socket's handle.
      if (p === 'h2') return void h2.emit('connection', Duplex.from({ readable: socket, writable: socket }));
      const handle = (socket as Socket & { _handle?: { _consumed?: boolean } })._handle;
      if (handle) handle._consumed = true;
      h1.emit('connection', socket);
      socket.resume();
    });
  });
  return Object.assign(tcp, {
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => resolve());
      }),
  });
}

/** The caller's node:http Agent: each of its "sockets" is an HBONE stream to the waypoint. */
export class TunnelAgent extends Agent {
  readonly #dial: () => Promise<Duplex>;

  constructor(dial: () => Promise<Duplex>, keepAlive: boolean) {
    super({ keepAlive });
    this.#dial = dial;
  }

  // node:http waits for the callback when createConnection returns nothing.
  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, socket: Socket) => void): Socket | undefined {
    this.#dial().then(
      (stream) => callback?.(null, asHttpSocket(stream)),
      (err: Error) => callback?.(err, undefined as unknown as Socket),
    );
    return undefined;
  }
}

/** `n` requests, `concurrency` at a time. */
export async function many<T>(n: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

/** An Istio resource from a plain spec, in the default namespace. */
export function resource(kind: string, name: string, spec: Record<string, unknown>): Resource {
  const group = kind === 'AuthorizationPolicy' ? 'security.istio.io/v1' : 'networking.istio.io/v1';
  return { apiVersion: group, kind, metadata: { name, namespace: 'default' }, spec };
}

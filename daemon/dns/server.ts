/**
 * ambitd's DNS server: UDP and TCP on the same port (default 127.0.0.1:15053),
 * answering mesh names from the daemon's lookup and forwarding the rest to the
 * host's resolvers. What to answer lives in handler.ts; this file owns sockets.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server as TcpServer, type Socket } from 'node:net';
import { DEFAULT_MESH_DOMAIN } from '../../core/config/resource.js';
import { isAmbitError } from '../../core/errors.js';
import { logger } from '../../core/logging.js';
import { bindUdp, describeListenTarget, listenTcp, type ListenTarget } from '../../core/net/listen-target.js';
import { DnsError } from './errors.js';
import { QueryHandler, type MeshLookup } from './handler.js';
import type { DnsMetrics } from './metrics.js';
import { FrameReader, frame } from './tcp-framing.js';
import { UpstreamSource, type Upstream } from './upstreams.js';

export type { MeshLookup } from './handler.js';
export type { DnsMetrics, DnsQueryEvent, DnsResult } from './metrics.js';

const log = logger('dns');

export const DEFAULT_DNS_PORT = 15053;
export const DEFAULT_DNS_ADDRESS = '127.0.0.1';
/** What ztunnel's DNS proxy uses (DEFAULT_TTL_SECONDS): short enough that a re-allocated VIP is picked up quickly. */
export const DEFAULT_DNS_TTL = 30;

export interface MeshDnsServerOptions {
  resolve: MeshLookup;
  /** Default 15053; 0 picks a free port (the same one for UDP and TCP). */
  port?: number;
  address?: string;
  /** Mesh domain (default cluster.local); names under svc.<domain> are ours. */
  domain?: string;
  ttl?: number;
  /** Upstream resolvers ("ip", "ip:port", "[v6]:port"); default: the nameservers of resolvConfPath. */
  upstreams?: (string | Upstream)[];
  resolvConfPath?: string;
  /** Total time to get an answer from the upstreams before answering SERVFAIL (default 4000, below glibc's 5 s). */
  forwardTimeoutMs?: number;
  maxInflightForwards?: number;
  /** Idle TCP connections are closed after this long (default 10000, as RFC 7766 suggests). */
  tcpIdleTimeoutMs?: number;
  maxTcpConnections?: number;
  metrics?: DnsMetrics;
  /**
   * Where each socket listens instead of port/address: a socket systemd passed
   * (core/net/inherited-sockets.ts) or an address to bind; either may be missing.
   */
  listen?: { udp?: ListenTarget | undefined; tcp?: ListenTarget | undefined };
}

export class MeshDnsServer {
  #udp: UdpSocket | undefined;
  #tcp: TcpServer | undefined;
  readonly #connections = new Set<Socket>();
  #handler: QueryHandler | undefined;
  #upstreams: UpstreamSource | undefined;
  #closed = false;
  #boundPort = 0;
  readonly #options: MeshDnsServerOptions;

  constructor(options: MeshDnsServerOptions) {
    this.#options = options;
  }

  /** Bind both sockets and load the upstreams. Rejects with DnsError EDNS_BIND. */
  async start(): Promise<void> {
    const address = this.#address;
    await this.#bind(address, this.#options.port ?? DEFAULT_DNS_PORT);
    await this.setUpstreams(this.#options.upstreams);
    this.#handler = new QueryHandler({
      resolve: this.#options.resolve,
      domain: this.#options.domain ?? DEFAULT_MESH_DOMAIN,
      ttl: this.#options.ttl ?? DEFAULT_DNS_TTL,
      upstreams: () => this.#upstreams?.current() ?? [],
      forwardTimeoutMs: this.#options.forwardTimeoutMs ?? 4000,
      maxInflightForwards: this.#options.maxInflightForwards ?? 1024,
      metrics: this.#options.metrics,
    });
    log.info({ address, port: this.#boundPort }, 'DNS server listening (UDP and TCP)');
  }

  /**
   * Where non-mesh queries go from now on (ambitd's SIGHUP), as the upstreams
   * option: undefined means the host's resolv.conf. Queries already forwarded
   * finish with the resolvers they were sent to.
   */
  async setUpstreams(upstreams: (string | Upstream)[] | undefined): Promise<void> {
    const source = new UpstreamSource({
      upstreams,
      resolvConfPath: this.#options.resolvConfPath,
      listen: { address: this.#address, port: this.#boundPort },
    });
    await source.load();
    this.#upstreams = source;
  }

  get #address(): string {
    return this.#options.address ?? DEFAULT_DNS_ADDRESS;
  }

  /** The port both sockets are bound to. */
  get port(): number {
    return this.#boundPort;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#connections) socket.destroy();
    await Promise.all([
      this.#udp ? new Promise<void>((resolve) => this.#udp!.close(() => resolve())) : undefined,
      this.#tcp ? new Promise<void>((resolve) => this.#tcp!.close(() => resolve())) : undefined,
    ]);
  }

  /**
   * With port 0 UDP picks a free port first and TCP takes the same one; if
   * that TCP port is taken, try again with another (clients expect one port).
   */
  async #bind(address: string, port: number): Promise<void> {
    const given = this.#options.listen ?? {};
    for (let attempt = 0; ; attempt++) {
      const udp = await this.#bindUdp(given.udp ?? { kind: 'bind', host: address, port });
      const udpPort = udp.address().port;
      try {
        this.#tcp = await this.#bindTcp(given.tcp ?? { kind: 'bind', host: address, port: udpPort });
        this.#udp = udp;
        this.#boundPort = udpPort;
        return;
      } catch (err) {
        udp.close();
        if (port !== 0 || attempt >= 5) throw err;
      }
    }
  }

  async #bindUdp(target: ListenTarget): Promise<UdpSocket> {
    const host = target.kind === 'bind' ? target.host : target.address;
    const udp = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
    try {
      await bindUdp(udp, target);
    } catch (err) {
      udp.close();
      throw bindError('udp', target, err);
    }
    udp.on('error', (err) => log.warn({ err }, 'DNS UDP socket error'));
    udp.on('message', (message, client) => {
      void this.#handle(message, 'udp').then((out) => {
        if (out && !this.#closed) udp.send(out, client.port, client.address, (err) => err && log.debug({ err }, 'could not send a DNS reply'));
      });
    });
    return udp;
  }

  async #bindTcp(target: ListenTarget): Promise<TcpServer> {
    const tcp = createServer((socket) => this.#serveTcp(socket));
    tcp.maxConnections = this.#options.maxTcpConnections ?? 512;
    try {
      await listenTcp(tcp, target);
    } catch (err) {
      throw bindError('tcp', target, err);
    }
    tcp.on('error', (err) => log.warn({ err }, 'DNS TCP listener error'));
    return tcp;
  }

  /** Queries on one connection may be pipelined; each reply is written when ready (RFC 7766 allows any order). */
  #serveTcp(socket: Socket): void {
    this.#connections.add(socket);
    const reader = new FrameReader();
    socket.setTimeout(this.#options.tcpIdleTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on('error', (err) => log.debug({ err }, 'DNS TCP connection error'));
    socket.on('close', () => this.#connections.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        void this.#handle(message, 'tcp').then((out) => {
          if (out && socket.writable) socket.write(frame(out));
        });
      }
    });
  }

  async #handle(message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (!this.#handler || this.#closed) return undefined;
    try {
      return await this.#handler.handle(message, transport);
    } catch (err) {
      // The handler answers every failure itself; this is the last line against a crash.
      log.error({ err }, 'DNS query handling failed unexpectedly');
      return undefined;
    }
  }
}

/** A socket of the wrong port stays ELISTEN_FD_MISMATCH (it says what to re-install); any other failure is EDNS_BIND. */
function bindError(transport: 'udp' | 'tcp', target: ListenTarget, err: unknown): unknown {
  if (isAmbitError(err)) return err;
  const address = target.kind === 'bind' ? target.host : target.address;
  const where = describeListenTarget(target);
  return new DnsError('EDNS_BIND', `cannot listen for DNS on ${transport} ${where}: ${(err as Error).message}`, { address, port: target.port }, { cause: err });
}

/**
 * Runs the waypoints registered on this node (`ambit waypoint attach --node`):
 * one `ambit-waypoint` child process per served service, with the certificate
 * of its `<svc>-waypoint` identity written to files only root can read. Once a
 * child answers its readiness probe the supervisor marks the registration
 * ready, which is what makes the other daemons send traffic through it.
 * Certificates renewed by the daemon are rewritten and the child told with
 * SIGHUP. A child that dies is restarted with back-off. On detach the child
 * gets SIGTERM at once: it keeps serving for its drain time (daemons that have
 * not seen the detach yet still send to it) while moving clients to new
 * connections, then waits for requests in flight and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { formatAuthority } from '../core/hbone/authority.js';
import type { TlsIdentity, TunnelInfo } from '../core/hbone/index.js';
import { waypointStateDir } from '../core/identity/client/node-dir.js';
import { storeEnv } from '../core/store/env-options.js';
import type { Store } from '../core/store/index.js';
import type { StoreOptions } from '../core/store/types.js';
import type { DaemonMetrics } from './metrics.js';
import { identityOf, type WaypointView } from '../core/mesh/index.js';
import type { WaypointStatus } from '../core/status/index.js';

const WAYPOINT_BIN = fileURLToPath(new URL('../../bin/ambit-waypoint.js', import.meta.url));
/** The waypoints' settings file (tracing; docs/tracing.md), passed to each one started while it exists. */
export const WAYPOINT_SETTINGS_FILE = '/etc/ambit/ambit-waypoint.yaml';
const READY_POLL_MS = 200;
const READY_TIMEOUT_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;
/**
 * Node flags for every waypoint child, from AMBIT_WAYPOINT_NODE_ARGS (space-separated): a way to run
 * it under --cpu-prof or other V8 settings (bench/waypoint.ts does), since Node refuses those in NODE_OPTIONS.
 */
const WAYPOINT_NODE_ARGS = process.env.AMBIT_WAYPOINT_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];

export interface WaypointSupervisorOptions {
  workload: (spiffeId: string) => TlsIdentity | Promise<TlsIdentity>;
  store: Store;
  storeOptions: StoreOptions;
  /** Parent of each waypoint's certificate directory. */
  dir: string;
  /** The node's state dir: each waypoint keeps its own state (last accepted manifest sequence) under it, across detaches. */
  nodeDir: string;
  nodeName: string;
  trustDomain: string;
  domain: string;
  log: Logger;
  metrics: DaemonMetrics;
  /** How long a draining child may take before it is killed (its drain time plus shutdown grace, and some). */
  stopTimeoutMs?: number;
  /** The program to run (tests); default: this install's ambit-waypoint under this node binary. */
  command?: string[];
  /** Default WAYPOINT_SETTINGS_FILE. */
  settingsFile?: string;
  /** Where each waypoint binds its metrics port (ambitd.yaml waypointMetricsAddress); default 127.0.0.1. */
  metricsAddress?: string;
}

interface Instance {
  key: string;
  view: WaypointView;
  spiffeId: string;
  files: { cert: string; key: string; ca: string; dir: string };
  child: ChildProcess | undefined;
  ready: boolean;
  stopping: boolean;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

export class WaypointSupervisor {
  readonly #o: WaypointSupervisorOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #exits = new Set<Promise<void>>();
  #closed = false;

  constructor(options: WaypointSupervisorOptions) {
    this.#o = options;
  }

  get #metricsAddress(): string {
    return this.#o.metricsAddress ?? '127.0.0.1';
  }

  /** Where this daemon asks a child for readiness and tunnels: its metrics address, loopback for a wildcard bind. */
  #metricsAt(inst: Instance): string {
    const a = this.#metricsAddress;
    return formatAuthority(a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a, inst.view.info.metricsPort);
  }

  /** Brings the running children in line with the registrations for this node. */
  reconcile(waypoints: readonly WaypointView[]): void {
    if (this.#closed) return;
    const wanted = new Map(waypoints.map((w) => [`${w.info.namespace}/${w.info.service}`, w]));
    for (const [key, inst] of this.#instances) {
      const w = wanted.get(key);
      // Detached, or re-attached elsewhere on this node: this child goes; a new one starts below.
      if (!w || w.info.port !== inst.view.info.port || w.info.metricsPort !== inst.view.info.metricsPort || w.info.address !== inst.view.info.address) {
        this.#retire(inst);
        continue;
      }
      inst.view = w;
      // Marked ready before a store outage hid the write, or re-registered by hand: say so again.
      if (inst.ready && w.info.state !== 'ready') void this.#markReady(inst);
    }
    for (const [key, w] of wanted) if (!this.#instances.has(key)) this.#start(key, w);
    this.#o.metrics.waypoints.set(this.#instances.size);
  }

  /** A renewed workload certificate: rewrite the files of the waypoint that uses it. */
  rotated(spiffeId: string): void {
    for (const inst of this.#instances.values()) if (inst.spiffeId === spiffeId) void this.#refreshFiles(inst);
  }

  /** A new trust bundle: every waypoint's files change. */
  bundleRotated(): void {
    for (const inst of this.#instances.values()) void this.#refreshFiles(inst);
  }

  status(): WaypointStatus[] {
    return [...this.#instances.values()].map((i) => ({
      namespace: i.view.info.namespace,
      service: i.view.info.service,
      port: i.view.info.port,
      pid: i.child?.pid,
      ready: i.ready,
      failures: i.failures,
    }));
  }

  /** The running waypoints' own tunnels to endpoints (asked of each; one that does not answer soon is left out). */
  async tunnels(): Promise<TunnelInfo[]> {
    const ready = [...this.#instances.values()].filter((i) => i.ready);
    const lists = await Promise.all(ready.map((i) => getJson<TunnelInfo[]>(`http://${this.#metricsAt(i)}/tunnels`)));
    return lists.flatMap((l) => l ?? []);
  }

  /** The daemon is stopping: every child drains now. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const inst of this.#instances.values()) this.#retire(inst);
    await Promise.all(this.#exits);
  }

  #start(key: string, view: WaypointView): void {
    const { info } = view;
    const dir = join(this.#o.dir, `${info.namespace}.${info.service}`);
    const inst: Instance = {
      key,
      view,
      spiffeId: identityOf(this.#o.trustDomain, view.endpoint),
      files: { dir, cert: join(dir, 'cert-chain.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'root-cert.pem') },
      child: undefined,
      ready: false,
      stopping: false,
      failures: 0,
      timer: undefined,
    };
    this.#instances.set(key, inst);
    void this.#launch(inst);
  }

  async #launch(inst: Instance): Promise<void> {
    const { log } = this.#o;
    const { info } = inst.view;
    try {
      await this.#writeFiles(inst);
    } catch (err) {
      log.warn({ waypoint: inst.key, err: (err as Error).message }, 'no certificate for the waypoint yet; retrying');
      return this.#retry(inst, 'certificate');
    }
    if (inst.stopping) return;
    const fqdn = `${info.service}.${info.namespace}.svc.${this.#o.domain}`;
    const [cmd, ...pre] = this.#o.command ?? [process.execPath, ...WAYPOINT_NODE_ARGS, WAYPOINT_BIN];
    const args = [
      ...pre,
      '--service',
      fqdn,
      '--cert',
      inst.files.cert,
      '--key',
      inst.files.key,
      '--ca',
      inst.files.ca,
      '--listen',
      `${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}`,
      '--metrics',
      formatAuthority(this.#metricsAddress, info.metricsPort),
      '--node-name',
      this.#o.nodeName,
      '--trust-domain',
      this.#o.trustDomain,
      '--domain',
      this.#o.domain,
      '--state-dir',
      waypointStateDir(this.#o.nodeDir, fqdn),
    ];
    const settings = this.#o.settingsFile ?? WAYPOINT_SETTINGS_FILE;
    if (existsSync(settings)) args.push('--config', settings);
    const child = spawn(cmd!, args, {
      // Its logs join the daemon's (one journal per host); the store settings travel in the environment.
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...storeEnv(this.#o.storeOptions, this.#storeCaFile(inst)), AMBIT_COMPONENT: 'waypoint' },
    });
    inst.child = child;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#exits.add(exited);
    void exited.then(() => this.#exits.delete(exited));
    child.once('exit', (code, signal) => {
      inst.child = undefined;
      inst.ready = false;
      if (inst.stopping) return;
      this.#o.metrics.waypointRestarts.inc({ service: fqdn });
      log.error({ waypoint: inst.key, code, signal }, 'waypoint exited; restarting');
      this.#retry(inst, 'exit');
    });
    log.info({ waypoint: inst.key, pid: child.pid, listen: `${info.address}:${info.port}` }, 'waypoint started');
    if (await this.#probe(inst, child)) {
      inst.ready = true;
      inst.failures = 0;
      await this.#markReady(inst);
    } else if (inst.child === child && !inst.stopping) {
      log.error({ waypoint: inst.key, timeoutMs: READY_TIMEOUT_MS }, 'waypoint never became ready; killing it');
      child.kill('SIGKILL');
    }
  }

  #retry(inst: Instance, reason: string): void {
    if (inst.stopping) return;
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** inst.failures++);
    this.#o.log.info({ waypoint: inst.key, reason, delayMs: delay }, 'waypoint start retry scheduled');
    inst.timer = setTimeout(() => void this.#launch(inst), delay);
    inst.timer.unref();
  }

  /** Polls the child's /healthz/ready until it answers, it dies, or the timeout passes. */
  async #probe(inst: Instance, child: ChildProcess): Promise<boolean> {
    const until = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < until && inst.child === child && !inst.stopping) {
      if (await httpOk(`http://${this.#metricsAt(inst)}/healthz/ready`)) return true;
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
    return false;
  }

  async #markReady(inst: Instance): Promise<void> {
    try {
      await this.#o.store.setWaypointReady(inst.view.endpoint, true);
      this.#o.log.info({ waypoint: inst.key }, 'waypoint ready; traffic for the service now goes through it');
    } catch (err) {
      // The next snapshot after the store returns still says `starting`; reconcile marks it then.
      this.#o.log.warn({ waypoint: inst.key, err: (err as Error).message }, 'could not mark the waypoint ready; will retry when the store is back');
    }
  }

  /** The store's TLS CA (rediss:// with a private CA), written beside the waypoint's certificates for it to read. */
  #storeCaFile(inst: Instance): string | undefined {
    const tls = this.#o.storeOptions.tls;
    const ca = typeof tls === 'object' ? tls.ca : undefined;
    if (!ca) return undefined;
    const file = join(inst.files.dir, 'store-ca.pem');
    writeFileSync(file, Array.isArray(ca) ? ca.map(String).join('\n') : String(ca), { mode: 0o600 });
    return file;
  }

  async #writeFiles(inst: Instance): Promise<void> {
    const tls = await this.#o.workload(inst.spiffeId);
    mkdirSync(inst.files.dir, { recursive: true, mode: 0o700 });
    writeFileSync(inst.files.key, tls.key, { mode: 0o600 });
    writeFileSync(inst.files.cert, tls.cert, { mode: 0o600 });
    writeFileSync(inst.files.ca, Array.isArray(tls.ca) ? tls.ca.map(String).join('\n') : tls.ca, { mode: 0o600 });
  }

  async #refreshFiles(inst: Instance): Promise<void> {
    if (!inst.child || inst.stopping) return;
    try {
      await this.#writeFiles(inst);
      inst.child?.kill('SIGHUP');
    } catch (err) {
      this.#o.log.error({ waypoint: inst.key, err: (err as Error).message }, 'could not refresh the waypoint certificate files');
    }
  }

  /** Stops one waypoint: SIGTERM (it drains), SIGKILL if it outlives the stop timeout. */
  #retire(inst: Instance): void {
    if (inst.stopping) return;
    inst.stopping = true;
    clearTimeout(inst.timer);
    this.#instances.delete(inst.key);
    // Daemons stop sending to it now, not when it has drained: its node's word is withdrawn first.
    if (inst.ready) {
      void this.#o.store
        .setWaypointReady(inst.view.endpoint, false)
        .catch((err: Error) => this.#o.log.warn({ waypoint: inst.key, err: err.message }, 'could not withdraw the waypoint readiness'));
    }
    const child = inst.child;
    const cleanup = () => rmSync(inst.files.dir, { recursive: true, force: true });
    if (!child) return cleanup();
    this.#o.log.info({ waypoint: inst.key, pid: child.pid }, 'waypoint stopping; it drains first');
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.#o.stopTimeoutMs ?? 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      cleanup();
    });
  }
}

function getJson<T>(url: string): Promise<T | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as T) : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
  });
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/**
 * ambitd's settings: /etc/ambit/ambitd.yaml (configs/ambitd.yaml is the
 * documented default), overridden by flags. Validated once at start-up (and on
 * SIGHUP, see daemon/reload.ts) into a fully defaulted DaemonConfig that the rest
 * of the daemon trusts. In core/ because the CLI reads the same file: `ambit
 * install` writes and checks it, `ambit doctor` and `uninstall` read it.
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { parseSettings } from './settings-file.js';
import { array, bool, enumOf, int, object, port, refine, string, type Schema } from './schema.js';
import { duration } from './kinds/common.js';
import type { StoreOptions } from '../store/types.js';
import { DEFAULT_MESH_DOMAIN } from './resource.js';
import { upstreamProblem } from '../net/upstream.js';

export const DEFAULT_CONFIG_PATH = '/etc/ambit/ambitd.yaml';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface DaemonConfig {
  node: { name: string; address: string };
  store: StoreOptions;
  mesh: { trustDomain: string; domain: string };
  ports: { outbound: number; inbound: number; dns: number; admin: number; metrics: number };
  adminAddress: string;
  metricsAddress: string;
  capture: { enabled: boolean; dns: boolean; keepRulesOnExit: boolean };
  /** Where non-mesh DNS queries go; empty means the host's /etc/resolv.conf. */
  dns: { upstreams: string[] };
  identity: { dir: string };
  drainTimeoutMs: number;
  /** HBONE deadlines and bounds (issue 13): what a stalled, hostile or dead peer may hold. */
  hbone: { handshakeTimeoutMs: number; maxPendingHandshakesPerAddress: number; keepaliveIntervalMs: number; keepaliveTimeoutMs: number };
  logLevel: (typeof LOG_LEVELS)[number];
}

/** The file's shape: everything optional, defaults filled in by `withDefaults`. */
interface DaemonFile {
  node?: { name?: string; address?: string };
  store?: { url?: string; passwordFile?: string; caFile?: string; sentinels?: string[]; sentinelName?: string; keyPrefix?: string };
  mesh?: { trustDomain?: string; domain?: string };
  ports?: Partial<DaemonConfig['ports']>;
  adminAddress?: string;
  metricsAddress?: string;
  capture?: Partial<DaemonConfig['capture']>;
  dns?: { upstreams?: string[] };
  identity?: { dir?: string };
  drainTimeout?: number;
  hbone?: { handshakeTimeout?: number; maxPendingHandshakesPerAddress?: number; keepaliveInterval?: number; keepaliveTimeout?: number };
  logLevel?: DaemonConfig['logLevel'];
}

const ip = (): Schema<string> => refine(string(), (v) => (isIP(v) ? undefined : `${JSON.stringify(v)} is not an IP address`));
const hostPort = refine(string(), (v) => (/^[^\s:]+:\d{1,5}$/.test(v) ? undefined : `${JSON.stringify(v)} is not host:port`));
// Checked here, not when the DNS server starts, so a bad entry is a file:line error that a SIGHUP reload refuses whole.
const upstream = refine(string(), upstreamProblem);
const dnsName = refine(string(), (v) => (/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v) ? undefined : `${JSON.stringify(v)} is not a DNS name`));

type Section<K extends keyof DaemonFile> = NonNullable<DaemonFile[K]>;

const FILE_SCHEMA: Schema<DaemonFile> = object<DaemonFile>({
  node: object<Section<'node'>>({ name: dnsName, address: ip() }),
  store: object<Section<'store'>>({
    url: string(),
    passwordFile: string(),
    caFile: string(),
    sentinels: array(hostPort),
    sentinelName: string(),
    keyPrefix: string(),
  }),
  mesh: object<Section<'mesh'>>({ trustDomain: dnsName, domain: dnsName }),
  ports: object<Section<'ports'>>({ outbound: port(), inbound: port(), dns: port(), admin: port(), metrics: port() }),
  adminAddress: ip(),
  metricsAddress: ip(),
  capture: object<Section<'capture'>>({ enabled: bool(), dns: bool(), keepRulesOnExit: bool() }),
  dns: object<Section<'dns'>>({ upstreams: array(upstream) }),
  identity: object<Section<'identity'>>({ dir: string() }),
  drainTimeout: duration(),
  hbone: object<Section<'hbone'>>({
    handshakeTimeout: duration(),
    maxPendingHandshakesPerAddress: int({ min: 1 }),
    keepaliveInterval: duration(),
    keepaliveTimeout: duration(),
  }),
  logLevel: enumOf(LOG_LEVELS),
});

export interface DaemonOverrides {
  nodeName?: string;
  nodeAddress?: string;
  redisUrl?: string;
  logLevel?: string;
}

export async function loadDaemonConfig(path: string | undefined, overrides: DaemonOverrides = {}): Promise<DaemonConfig> {
  const file = path ? parseSettings(await readFile(path, 'utf8'), path, FILE_SCHEMA) : {};
  const secrets = {
    password: file.store?.passwordFile ? (await readFile(file.store.passwordFile, 'utf8')).trim() : undefined,
    ca: file.store?.caFile ? await readFile(file.store.caFile) : undefined,
  };
  return withDefaults(file, overrides, secrets);
}

export function parseDaemonConfig(text: string, file: string, overrides: DaemonOverrides = {}): DaemonConfig {
  return withDefaults(parseSettings(text, file, FILE_SCHEMA), overrides, {});
}

/** Contents of the files the settings point at (read by the caller, so parsing stays pure). */
interface Secrets {
  password?: string | undefined;
  ca?: Buffer | undefined;
}

function withDefaults(f: DaemonFile, o: DaemonOverrides, secrets: Secrets): DaemonConfig {
  const store: StoreOptions = { url: o.redisUrl ?? f.store?.url ?? process.env.AMBIT_REDIS_URL ?? 'redis://127.0.0.1:6379' };
  if (secrets.password) store.password = secrets.password;
  if (f.store?.keyPrefix) store.keyPrefix = f.store.keyPrefix;
  if (secrets.ca) store.tls = { ca: secrets.ca };
  if (f.store?.sentinels) {
    store.sentinels = f.store.sentinels.map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }));
    store.sentinelName = f.store.sentinelName ?? 'mymaster';
  }
  const domain = f.mesh?.domain ?? DEFAULT_MESH_DOMAIN;
  return {
    node: { name: o.nodeName ?? f.node?.name ?? hostname(), address: o.nodeAddress ?? f.node?.address ?? primaryAddress() },
    store,
    mesh: { trustDomain: f.mesh?.trustDomain ?? domain, domain },
    ports: { outbound: 15001, inbound: 15008, dns: 15053, admin: 15000, metrics: 15020, ...f.ports },
    adminAddress: f.adminAddress ?? '127.0.0.1',
    metricsAddress: f.metricsAddress ?? '0.0.0.0',
    capture: { enabled: true, dns: true, keepRulesOnExit: false, ...f.capture },
    dns: { upstreams: f.dns?.upstreams ?? [] },
    identity: { dir: f.identity?.dir ?? '/var/lib/ambit' },
    drainTimeoutMs: f.drainTimeout ?? 30_000,
    hbone: {
      handshakeTimeoutMs: f.hbone?.handshakeTimeout ?? 5_000,
      maxPendingHandshakesPerAddress: f.hbone?.maxPendingHandshakesPerAddress ?? 32,
      keepaliveIntervalMs: f.hbone?.keepaliveInterval ?? 10_000,
      keepaliveTimeoutMs: f.hbone?.keepaliveTimeout ?? 10_000,
    },
    logLevel: (o.logLevel as DaemonConfig['logLevel'] | undefined) ?? f.logLevel ?? 'info',
  };
}

/** The first non-loopback IPv4 address: where peers most likely reach this host. */
export function primaryAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

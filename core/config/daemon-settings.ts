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
import { array, bool, Codes, enumOf, int, object, port, refine, string, transform, type Schema } from './schema.js';
import { duration } from './kinds/common.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NODE_DIR } from '../identity/client/node-dir.js';
import { fingerprintProblem, normalizeFingerprint } from '../identity/fingerprint.js';
import { NODE_CREDENTIALS_FILE, readCredentials, type StoreCredentials } from '../access/credentials.js';
import type { StoreOptions } from '../store/types.js';
import { DEFAULT_MESH_DOMAIN } from './resource.js';
import { upstreamProblem } from '../net/upstream.js';

export const DEFAULT_CONFIG_PATH = '/etc/ambit/ambitd.yaml';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface DaemonConfig {
  node: { name: string; address: string };
  store: StoreOptions;
  mesh: { trustDomain: string; domain: string };
  /** inboundPlaintext: where iptables sends plaintext TCP to local workloads, for AuthorizationPolicy. */
  ports: { outbound: number; inbound: number; inboundPlaintext: number; dns: number; admin: number; metrics: number };
  adminAddress: string;
  metricsAddress: string;
  /**
   * Where the waypoints this daemon runs serve /metrics (each on its own port):
   * 127.0.0.1 by default, so only a Prometheus on the node scrapes them; the
   * node's address or 0.0.0.0 lets a central one (`ambit prometheus sd --waypoints`).
   */
  waypointMetricsAddress: string;
  /**
   * failOpen: what happens to the rules when ambitd is not running. false (the
   * default, DESIGN.md "Fail closed"): they stay, so captured traffic is refused
   * and STRICT ports stay closed to plaintext; true: removed on stop and crash.
   */
  capture: { enabled: boolean; dns: boolean; failOpen: boolean };
  /** Where non-mesh DNS queries go; empty means the host's /etc/resolv.conf. */
  dns: { upstreams: string[] };
  /**
   * rootFingerprint: the mesh root (canonical, colon-separated) a first start's join
   * must find the store's trust bundle signed by, beside the one the token carries.
   */
  identity: { dir: string; rootFingerprint?: string };
  drainTimeoutMs: number;
  /** HBONE deadlines and bounds (issue 13): what a stalled, hostile or dead peer may hold. */
  hbone: { handshakeTimeoutMs: number; maxPendingHandshakesPerAddress: number; keepaliveIntervalMs: number; keepaliveTimeoutMs: number };
  logLevel: (typeof LOG_LEVELS)[number];
}

/** The file's shape: everything optional, defaults filled in by `withDefaults`. */
interface DaemonFile {
  node?: { name?: string; address?: string };
  store?: {
    url?: string;
    /** A role's credentials file ({"username", "password"}); default: the one `ambit node join` left in identity.dir. */
    credentialsFile?: string;
    username?: string;
    passwordFile?: string;
    caFile?: string;
    sentinels?: string[];
    sentinelName?: string;
    /** The sentinels' own password (their requirepass), read from this file. */
    sentinelPasswordFile?: string;
    keyPrefix?: string;
  };
  mesh?: { trustDomain?: string; domain?: string };
  ports?: Partial<DaemonConfig['ports']>;
  adminAddress?: string;
  metricsAddress?: string;
  waypointMetricsAddress?: string;
  capture?: Partial<DaemonConfig['capture']> & { keepRulesOnExit?: boolean };
  dns?: { upstreams?: string[] };
  identity?: { dir?: string; rootFingerprint?: string };
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
    credentialsFile: string(),
    username: string(),
    passwordFile: string(),
    caFile: string(),
    sentinels: array(hostPort),
    sentinelName: string(),
    sentinelPasswordFile: string(),
    keyPrefix: string(),
  }),
  mesh: object<Section<'mesh'>>({ trustDomain: dnsName, domain: dnsName }),
  ports: object<Section<'ports'>>({ outbound: port(), inbound: port(), inboundPlaintext: port(), dns: port(), admin: port(), metrics: port() }),
  adminAddress: ip(),
  metricsAddress: ip(),
  waypointMetricsAddress: ip(),
  capture: object<Section<'capture'>>(
    // keepRulesOnExit is the setting failOpen replaced: still read, see deprecations().
    { enabled: bool(), dns: bool(), failOpen: bool(), keepRulesOnExit: bool() },
    {
      check: (c, at) => {
        if (c.keepRulesOnExit === true && c.failOpen === true)
          at.fail(
            Codes.value,
            'keepRulesOnExit: true (keep the rules) contradicts failOpen: true (remove them): drop keepRulesOnExit, which failOpen replaced',
          );
      },
    },
  ),
  dns: object<Section<'dns'>>({ upstreams: array(upstream) }),
  identity: object<Section<'identity'>>({
    dir: string(),
    rootFingerprint: transform(string(), (v, at) => normalizeFingerprint(v) ?? at.fail(Codes.value, fingerprintProblem(v)!)),
  }),
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

/** The settings, and what in the file still works but should change (logged by ambitd, shown by `ambit doctor`). */
export interface DaemonSettings {
  config: DaemonConfig;
  deprecations: string[];
}

export async function loadDaemonSettings(path: string | undefined, overrides: DaemonOverrides = {}): Promise<DaemonSettings> {
  const file = path ? parseSettings(await readFile(path, 'utf8'), path, FILE_SCHEMA) : {};
  const secrets = {
    credentials: await credentialsOf(file),
    password: file.store?.passwordFile ? (await readFile(file.store.passwordFile, 'utf8')).trim() : undefined,
    sentinelPassword: file.store?.sentinelPasswordFile ? (await readFile(file.store.sentinelPasswordFile, 'utf8')).trim() : undefined,
    ca: file.store?.caFile ? await readFile(file.store.caFile) : undefined,
  };
  return { config: withDefaults(file, overrides, secrets), deprecations: deprecations(file, path ?? 'the settings file') };
}

export async function loadDaemonConfig(path: string | undefined, overrides: DaemonOverrides = {}): Promise<DaemonConfig> {
  return (await loadDaemonSettings(path, overrides)).config;
}

export function parseDaemonSettings(text: string, file: string, overrides: DaemonOverrides = {}): DaemonSettings {
  const parsed = parseSettings(text, file, FILE_SCHEMA);
  return { config: withDefaults(parsed, overrides, {}), deprecations: deprecations(parsed, file) };
}

export function parseDaemonConfig(text: string, file: string, overrides: DaemonOverrides = {}): DaemonConfig {
  return parseDaemonSettings(text, file, overrides).config;
}

/**
 * capture.keepRulesOnExit (before issue 13) is still accepted, because every
 * ambitd.yaml that `ambit install` wrote spells out `keepRulesOnExit: false`.
 * That false was the old default, not a choice, so it no longer removes the
 * rules: the host fails closed unless failOpen says otherwise. `true` asked
 * for what failOpen: false now gives.
 */
function deprecations(f: DaemonFile, file: string): string[] {
  const keep = f.capture?.keepRulesOnExit;
  if (keep === undefined) return [];
  const what = `${file}: capture.keepRulesOnExit is deprecated`;
  if (f.capture?.failOpen !== undefined) return [`${what} and ignored (capture.failOpen decides): delete the line`];
  if (keep) return [`${what}: the default (capture.failOpen: false) keeps the rules when ambitd stops, as it asked: delete the line`];
  return [
    `${what}, and its false no longer removes the rules when ambitd stops: the host now fails closed (enrolled services' captured traffic is refused while ambitd is down); delete the line, or write capture.failOpen: true to remove the rules on stop and crash as before`,
  ];
}

/**
 * The node's store credentials: the file the settings name, else (when the settings give no
 * user or password either) the one `ambit node join` or a first start with a token left in
 * the identity directory.
 */
async function credentialsOf(file: DaemonFile): Promise<StoreCredentials | undefined> {
  if (file.store?.credentialsFile) return readCredentials(file.store.credentialsFile);
  if (file.store?.username || file.store?.passwordFile) return undefined;
  const left = join(file.identity?.dir ?? DEFAULT_NODE_DIR, NODE_CREDENTIALS_FILE);
  return existsSync(left) ? readCredentials(left) : undefined;
}

/** Contents of the files the settings point at (read by the caller, so parsing stays pure). */
interface Secrets {
  credentials?: StoreCredentials | undefined;
  password?: string | undefined;
  sentinelPassword?: string | undefined;
  ca?: Buffer | undefined;
}

function withDefaults(f: DaemonFile, o: DaemonOverrides, secrets: Secrets): DaemonConfig {
  const store: StoreOptions = { url: o.redisUrl ?? f.store?.url ?? process.env.AMBIT_REDIS_URL ?? 'redis://127.0.0.1:6379' };
  if (f.store?.username) store.username = f.store.username;
  if (secrets.password) store.password = secrets.password;
  if (secrets.credentials) Object.assign(store, secrets.credentials);
  if (f.store?.keyPrefix) store.keyPrefix = f.store.keyPrefix;
  if (secrets.ca) store.tls = { ca: secrets.ca };
  if (f.store?.sentinels) {
    store.sentinels = f.store.sentinels.map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) }));
    store.sentinelName = f.store.sentinelName ?? 'mymaster';
    if (secrets.sentinelPassword) store.sentinelPassword = secrets.sentinelPassword;
  }
  const domain = f.mesh?.domain ?? DEFAULT_MESH_DOMAIN;
  return {
    // AMBIT_NODE as for the store URL: below the flag and the file, above the hostname (the CLI reads it too).
    node: { name: o.nodeName ?? f.node?.name ?? (process.env.AMBIT_NODE || hostname()), address: o.nodeAddress ?? f.node?.address ?? primaryAddress() },
    store,
    mesh: { trustDomain: f.mesh?.trustDomain ?? domain, domain },
    ports: { outbound: 15001, inbound: 15008, inboundPlaintext: 15006, dns: 15053, admin: 15000, metrics: 15020, ...f.ports },
    adminAddress: f.adminAddress ?? '127.0.0.1',
    metricsAddress: f.metricsAddress ?? '0.0.0.0',
    waypointMetricsAddress: f.waypointMetricsAddress ?? '127.0.0.1',
    capture: { enabled: f.capture?.enabled ?? true, dns: f.capture?.dns ?? true, failOpen: f.capture?.failOpen ?? false },
    dns: { upstreams: f.dns?.upstreams ?? [] },
    identity: { dir: f.identity?.dir ?? DEFAULT_NODE_DIR, ...(f.identity?.rootFingerprint ? { rootFingerprint: f.identity.rootFingerprint } : {}) },
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

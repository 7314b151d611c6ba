/**
 * SIGHUP: ambitd re-reads its settings file. Settings the running daemon can
 * adopt (log level, DNS upstreams, drain deadline, capture switches) take
 * effect at once; the rest (ports, node, store, identity, mesh domain, bind
 * addresses) are bound into listening sockets, certificates and connections,
 * so a change to them is reported and the old value kept until a restart.
 * A file that does not parse changes nothing.
 */
import type { Logger } from 'pino';
import { rootLogger } from '../core/logging.js';
import { loadDaemonSettings, type DaemonConfig, type DaemonOverrides } from '../core/config/daemon-settings.js';

/** One setting as the running daemon sees it, named as ambitd.yaml spells it. */
interface Setting {
  name: string;
  read(c: DaemonConfig): unknown;
  /** Present for settings the daemon can take without a restart: `into` with `from`'s value. */
  adopt?(into: DaemonConfig, from: DaemonConfig): DaemonConfig;
  /** Never logged (the value is a secret's contents). */
  secret?: boolean;
}

const restartOnly = (name: string, read: (c: DaemonConfig) => unknown, secret = false): Setting => ({ name, read, ...(secret ? { secret } : {}) });

const SETTINGS: readonly Setting[] = [
  restartOnly('node.name', (c) => c.node.name),
  restartOnly('node.address', (c) => c.node.address),
  restartOnly('store.url', (c) => c.store.url),
  restartOnly('store.credentialsFile', (c) => c.store.username),
  restartOnly('store.passwordFile', (c) => c.store.password, true),
  restartOnly('store.caFile', (c) => c.store.tls, true),
  restartOnly('store.sentinels', (c) => c.store.sentinels),
  restartOnly('store.sentinelName', (c) => c.store.sentinelName),
  restartOnly('store.sentinelPasswordFile', (c) => c.store.sentinelPassword, true),
  restartOnly('store.keyPrefix', (c) => c.store.keyPrefix),
  restartOnly('mesh.trustDomain', (c) => c.mesh.trustDomain),
  restartOnly('mesh.domain', (c) => c.mesh.domain),
  restartOnly('ports.outbound', (c) => c.ports.outbound),
  restartOnly('ports.inbound', (c) => c.ports.inbound),
  restartOnly('ports.inboundPlaintext', (c) => c.ports.inboundPlaintext),
  restartOnly('ports.dns', (c) => c.ports.dns),
  restartOnly('ports.admin', (c) => c.ports.admin),
  restartOnly('ports.metrics', (c) => c.ports.metrics),
  restartOnly('hbone.handshakeTimeout', (c) => c.hbone.handshakeTimeoutMs),
  restartOnly('hbone.maxPendingHandshakesPerAddress', (c) => c.hbone.maxPendingHandshakesPerAddress),
  restartOnly('hbone.keepaliveInterval', (c) => c.hbone.keepaliveIntervalMs),
  restartOnly('hbone.keepaliveTimeout', (c) => c.hbone.keepaliveTimeoutMs),
  restartOnly('adminAddress', (c) => c.adminAddress),
  restartOnly('metricsAddress', (c) => c.metricsAddress),
  restartOnly('waypointMetricsAddress', (c) => c.waypointMetricsAddress),
  restartOnly('identity.dir', (c) => c.identity.dir),
  restartOnly('identity.rootFingerprint', (c) => c.identity.rootFingerprint),
  {
    name: 'capture.enabled',
    read: (c) => c.capture.enabled,
    adopt: (into, from) => ({ ...into, capture: { ...into.capture, enabled: from.capture.enabled } }),
  },
  {
    name: 'capture.dns',
    read: (c) => c.capture.dns,
    adopt: (into, from) => ({ ...into, capture: { ...into.capture, dns: from.capture.dns } }),
  },
  {
    name: 'capture.failOpen',
    read: (c) => c.capture.failOpen,
    adopt: (into, from) => ({ ...into, capture: { ...into.capture, failOpen: from.capture.failOpen } }),
  },
  { name: 'dns.upstreams', read: (c) => c.dns.upstreams, adopt: (into, from) => ({ ...into, dns: { upstreams: [...from.dns.upstreams] } }) },
  { name: 'drainTimeout', read: (c) => c.drainTimeoutMs, adopt: (into, from) => ({ ...into, drainTimeoutMs: from.drainTimeoutMs }) },
  { name: 'logLevel', read: (c) => c.logLevel, adopt: (into, from) => ({ ...into, logLevel: from.logLevel }) },
];

/** Every setting name reload knows, so a test can prove none of DaemonConfig is left out. */
export const SETTING_NAMES: readonly string[] = SETTINGS.map((s) => s.name);

export interface RestartChange {
  setting: string;
  /** The value kept (undefined for secrets). */
  running: unknown;
  /** The value in the file (undefined for secrets). */
  wanted: unknown;
}

export interface ReloadPlan {
  /** What to run with: the current settings with every live setting's new value. */
  config: DaemonConfig;
  /** Changed settings that apply now. */
  applied: string[];
  /** Changed settings that keep their running value until a restart. */
  needRestart: RestartChange[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Which settings differ between `current` and `next`, and what the daemon runs with after a reload. */
export function planReload(current: DaemonConfig, next: DaemonConfig): ReloadPlan {
  const plan: ReloadPlan = { config: current, applied: [], needRestart: [] };
  for (const s of SETTINGS) {
    if (same(s.read(current), s.read(next))) continue;
    if (s.adopt) {
      plan.config = s.adopt(plan.config, next);
      plan.applied.push(s.name);
    } else {
      plan.needRestart.push({ setting: s.name, running: s.secret ? undefined : s.read(current), wanted: s.secret ? undefined : s.read(next) });
    }
  }
  return plan;
}

/** What a reload needs from the daemon: adopt a config whose restart-only settings are unchanged. */
export interface Reconfigurable {
  reconfigure(config: DaemonConfig): Promise<void>;
}

export interface ReloadOptions {
  /** The settings file; undefined when ambitd runs on defaults and flags only. */
  path: string | undefined;
  overrides: DaemonOverrides;
  current: DaemonConfig;
  daemon: Reconfigurable;
  log: Logger;
}

/** Re-reads the file and applies what can change live; resolves to the settings now in force. */
export async function reloadDaemonConfig(options: ReloadOptions): Promise<DaemonConfig> {
  const { path, current, log } = options;
  if (!path) {
    log.info('SIGHUP: no settings file (--config) to re-read; nothing changed');
    return current;
  }
  let next: DaemonConfig;
  try {
    const settings = await loadDaemonSettings(path, options.overrides);
    for (const d of settings.deprecations) log.warn({ file: path }, d);
    next = settings.config;
  } catch (err) {
    // ConfigErrors messages already start with file:line.
    log.error({ file: path, err: (err as Error).message }, `settings reload failed, every current setting kept: ${(err as Error).message}`);
    return current;
  }
  const plan = planReload(current, next);
  for (const change of plan.needRestart) {
    log.warn(
      { setting: change.setting, running: change.running, wanted: change.wanted, file: path },
      `${change.setting} changed in ${path} but needs a restart (systemctl restart ambitd); still running with the old value`,
    );
  }
  if (plan.applied.length === 0) {
    log.info({ file: path, needRestart: plan.needRestart.map((c) => c.setting) }, 'settings reloaded: nothing to apply live');
    return current;
  }
  rootLogger().level = plan.config.logLevel;
  try {
    await options.daemon.reconfigure(plan.config);
  } catch (err) {
    log.error({ err: (err as Error).message, applied: plan.applied }, 'settings reload: the daemon could not apply every change');
  }
  log.info({ file: path, applied: plan.applied, needRestart: plan.needRestart.map((c) => c.setting) }, `settings reloaded: ${plan.applied.join(', ')} applied`);
  return plan.config;
}

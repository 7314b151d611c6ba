/**
 * `ambitd`: the per-host daemon. Reads /etc/ambit/ambitd.yaml (flags
 * override it), joins the mesh on first start when given a token, optionally
 * embeds the CA signer (--ca), then runs until SIGTERM/SIGINT (drain) and
 * re-reads its settings file on SIGHUP (reload.ts: what can change live
 * applies, the rest waits for a restart). `--after-exit` is systemd's
 * ExecStopPost: what to do with the capture rules a stopped or crashed daemon
 * left behind (after-exit.ts: by default they stay, so the host fails closed).
 * Started by systemd, it listens on the sockets the ambitd-*.socket units
 * hold (core/net/inherited-sockets.ts), so its ports stay taken while it is down.
 */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CREDENTIALS_DIR, readCredentials, SIGNER_CREDENTIALS } from '../core/access/credentials.js';
import { nodeStoreOptions } from '../core/access/node-credentials.js';
import type { StoreOptions } from '../core/store/types.js';
import { rootLogger } from '../core/logging.js';
import { createRedis, Store } from '../core/store/index.js';
import { AmbitError } from '../core/errors.js';
import { originalDstAddon } from '../core/net/original-dst.js';
import { DEFAULT_CONFIG_PATH, loadDaemonSettings, type DaemonOverrides } from '../core/config/daemon-settings.js';
import { daemonListeners } from '../core/config/daemon-listeners.js';
import { InheritedSockets } from '../core/net/inherited-sockets.js';
import { Daemon } from './daemon.js';
import { startDaemonIdentity } from './identity.js';
import { reloadDaemonConfig } from './reload.js';
import { cleanUpAfterExit } from './after-exit.js';

interface Flags {
  config?: string;
  nodeName?: string;
  address?: string;
  redis?: string;
  token?: string;
  ca?: boolean;
  caDir?: string;
  caStoreCredentials?: string;
  logLevel?: string;
  afterExit?: boolean;
}

const program = new Command('ambitd')
  .description('ambit node daemon: traffic capture, HBONE mTLS tunnels, L4 policy, mesh DNS')
  .option('-c, --config <file>', `settings file (default ${DEFAULT_CONFIG_PATH} when it exists)`)
  .option('--node-name <name>', 'this node (default: the hostname)')
  .option('--address <ip>', 'address peers reach this node at')
  .option('--redis <url>', 'store URL (overrides the settings file and AMBIT_REDIS_URL)')
  .option('--token <token>', 'join token, used on first start (ambit node token create)', process.env.AMBIT_JOIN_TOKEN)
  .option('--ca', 'also run the certificate signer on this host (needs the CA files)')
  .option('--ca-dir <dir>', 'CA directory for --ca', '/etc/ambit/ca')
  .option('--ca-store-credentials <file>', "with --ca: the signer's store credentials (signer.json from ambit store init)", defaultSignerCredentials())
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace')
  .option(
    '--after-exit',
    "for systemd's ExecStopPost: with capture.failOpen, remove the capture rules a crashed ambitd left ($SERVICE_RESULT not success); fail closed (the default), leave them; then exit",
  )
  .parse();

const flags = program.opts<Flags>();
const configPath = flags.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
const overrides: DaemonOverrides = {
  ...(flags.nodeName ? { nodeName: flags.nodeName } : {}),
  ...(flags.address ? { nodeAddress: flags.address } : {}),
  ...(flags.redis ? { redisUrl: flags.redis } : {}),
  ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
};

const log = rootLogger().child({ component: 'ambitd' });
/** What a stop may take past drainTimeout (waypoints, the store, the last spans) before ambitd exits anyway. */
const STOP_MARGIN_MS = 4_000;
if (flags.afterExit) process.exit(await cleanUpAfterExit({ configPath, overrides, serviceResult: process.env.SERVICE_RESULT, log }));
// SIGHUP's default action ends the process: until the daemon exists (joining can take a while), remember the request.
let reload: (() => void) | undefined;
let reloadPending = false;
process.on('SIGHUP', () => (reload ? reload() : (reloadPending = true)));
try {
  const { config, deprecations } = await loadDaemonSettings(configPath, overrides);
  rootLogger().level = config.logLevel;
  for (const d of deprecations) log.warn({ file: configPath }, d);
  // Capture needs the addon (the original destination and owner of a captured socket):
  // without it every captured connection would fail, so say so now, not at the first one.
  if (config.capture.enabled) originalDstAddon();
  // Before anything changes on the host: sockets systemd passed for other ports refuse the start.
  const sockets = await InheritedSockets.fromEnvironment(log.child({ component: 'sockets' }));
  sockets.verify(daemonListeners(config.ports), configPath ?? 'the built-in settings');
  const credentials = await nodeStoreOptions({ store: config.store, identityDir: config.identity.dir, nodeName: config.node.name, token: flags.token });
  log.info({ source: credentials.source, user: credentials.store.username }, 'store credentials');
  // The daemon's config (and the waypoints it spawns) carry the node's own credentials from here on.
  config.store = credentials.store;
  const storeOptions = { ...config.store, retryForever: true };
  const store = new Store(createRedis(storeOptions, 'daemon'), storeOptions);
  await store.redis.connect().catch(() => undefined);
  const stops: (() => Promise<void>)[] = [];
  if (flags.ca) {
    const { startSigner } = await import('../core/identity/signer/index.js');
    // The signer is another role: with a store that has roles it connects as the signer, never as this node.
    const signerStore = flags.caStoreCredentials ? await signerStoreFor(config.store, flags.caStoreCredentials) : store;
    // The unit makes /etc read-only (ProtectSystem=strict): the signer's last accepted manifest sequence lives in the node's state dir.
    const signer = await startSigner({ store: signerStore, caDir: flags.caDir ?? '/etc/ambit/ca', stateDir: join(config.identity.dir, 'signer') });
    stops.push(() => signer.stop());
    if (signerStore !== store) stops.push(() => signerStore.close());
    log.info({ caDir: flags.caDir, user: signerStore.options.username }, 'certificate signer running');
  }
  const identity = await startDaemonIdentity({
    store,
    dir: config.identity.dir,
    nodeName: config.node.name,
    token: flags.token,
    rootFingerprint: config.identity.rootFingerprint,
    log: log.child({ component: 'identity' }),
  });
  const daemon = new Daemon(config, { store, identity, sockets }, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // Whatever state is stuck, a stop ends by drainTimeout and a margin (the README promises it;
    // systemd's ExecStopPost then sees a failure and, failing open, removes the rules).
    const margin = running.drainTimeoutMs + STOP_MARGIN_MS;
    setTimeout(() => {
      log.error({ waitedMs: margin }, 'stop did not finish within drainTimeout and its margin; exiting anyway');
      process.exit(1);
    }, margin).unref();
    await daemon.stop();
    for (const s of stops) await s();
    await store.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Reloads run one at a time, each from the settings the previous one left in force.
  let running = config;
  let reloads = Promise.resolve();
  reload = () => {
    reloads = reloads.then(async () => {
      running = await reloadDaemonConfig({ path: configPath, overrides, current: running, daemon, log });
    });
  };
  if (reloadPending) reload();
  await daemon.start();
} catch (err) {
  const message = err instanceof AmbitError ? err.message : ((err as Error).stack ?? String(err));
  log.fatal({ code: (err as AmbitError).code }, message);
  process.stderr.write(`ambitd: ${message}\n`);
  process.exit(1);
}

async function signerStoreFor(base: StoreOptions, file: string): Promise<Store> {
  const options: StoreOptions = { ...base, ...(await readCredentials(file)), retryForever: true, connectionName: 'ambit-signer' };
  const signerStore = new Store(createRedis(options, 'signer'), options);
  await signerStore.redis.connect().catch(() => undefined);
  return signerStore;
}

function defaultSignerCredentials(): string | undefined {
  const file = join(DEFAULT_CREDENTIALS_DIR, SIGNER_CREDENTIALS);
  return existsSync(file) ? file : undefined;
}

/** SIGHUP reload: which settings changed, which apply live, and what a bad file does (nothing). */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { parseDaemonConfig, type DaemonConfig } from '../../core/config/daemon-settings.js';
import { planReload, reloadDaemonConfig, SETTING_NAMES } from '../../daemon/reload.js';

const FLAGS = { nodeName: 'n1', nodeAddress: '10.0.0.1' };
const base = (text = ''): DaemonConfig => parseDaemonConfig(text, 'ambitd.yaml', FLAGS);

test('an unchanged file changes nothing', (t) => {
  const plan = planReload(base('logLevel: debug'), base('logLevel: debug'));
  t.deepEqual(plan.applied, []);
  t.deepEqual(plan.needRestart, []);
});

test('live settings are applied and listed', (t) => {
  const current = base();
  const next = base(['logLevel: debug', 'drainTimeout: 5s', 'dns: {upstreams: ["192.0.2.53"]}', 'capture: {dns: false, failOpen: true}'].join('\n'));
  const plan = planReload(current, next);
  t.deepEqual(plan.applied.sort(), ['capture.dns', 'capture.failOpen', 'dns.upstreams', 'drainTimeout', 'logLevel']);
  t.deepEqual(plan.needRestart, []);
  t.deepEqual(plan.config, next);
  t.is(current.logLevel, 'info', 'the running config object is not modified');
});

test('restart-only settings keep their running value and are named with both values', (t) => {
  const current = base();
  const next = base(['ports: {admin: 16000}', 'store: {url: "redis://10.9.9.9:6379"}', 'mesh: {domain: corp.example}', 'logLevel: warn'].join('\n'));
  const plan = planReload(current, next);
  t.deepEqual(plan.applied, ['logLevel']);
  t.deepEqual(
    plan.needRestart.map((c) => c.setting),
    ['store.url', 'mesh.trustDomain', 'mesh.domain', 'ports.admin'],
  );
  t.deepEqual(
    plan.needRestart.find((c) => c.setting === 'ports.admin'),
    { setting: 'ports.admin', running: 15000, wanted: 16000 },
  );
  t.is(plan.config.ports.admin, 15000);
  t.is(plan.config.store.url, current.store.url);
  t.is(plan.config.mesh.domain, 'cluster.local');
  t.is(plan.config.logLevel, 'warn');
});

test('a node name change (from the file) needs a restart', (t) => {
  const current = parseDaemonConfig('node: {name: a}', 'f', {});
  const next = parseDaemonConfig('node: {name: b}', 'f', {});
  t.deepEqual(
    planReload(current, next).needRestart.map((c) => c.setting),
    ['node.name'],
  );
});

test('secrets are reported by name only', (t) => {
  const current = base();
  const next = { ...current, store: { ...current.store, password: 'new-secret' } };
  const plan = planReload(current, next);
  t.deepEqual(plan.needRestart, [{ setting: 'store.passwordFile', running: undefined, wanted: undefined }]);
  t.false(JSON.stringify(plan).includes('new-secret'));
});

/** Every leaf of a fully populated config, as a path and a changed copy. */
function mutations(config: DaemonConfig): { path: string; changed: DaemonConfig }[] {
  const out: { path: string; changed: DaemonConfig }[] = [];
  const walk = (value: unknown, path: string[]): void => {
    const isLeaf = value === null || typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value);
    if (!isLeaf) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    const changed = structuredClone({ ...config, store: { ...config.store, tls: undefined } }) as DaemonConfig;
    changed.store.tls = { ca: Buffer.from('ca') };
    let at = changed as unknown as Record<string, unknown>;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    const key = path[path.length - 1]!;
    const old = at[key];
    at[key] = Buffer.isBuffer(old)
      ? Buffer.from('other ca')
      : Array.isArray(old)
        ? [...(old as unknown[]), (old as unknown[])[0] ?? 'x']
        : typeof old === 'number'
          ? old + 1
          : typeof old === 'boolean'
            ? !old
            : `${String(old)}x`;
    out.push({ path: path.join('.'), changed });
  };
  walk(config, []);
  return out;
}

test('every setting of DaemonConfig is classified: changing any one leaf is reported exactly once', (t) => {
  const full = parseDaemonConfig('store: {sentinels: ["10.0.0.5:26379"], keyPrefix: "m:"}\ndns: {upstreams: ["192.0.2.53"]}', 'f', FLAGS);
  full.store.password = 'p';
  full.store.username = 'ambit-node-b';
  full.store.sentinelPassword = 'sp';
  full.store.tls = { ca: Buffer.from('ca') };
  full.identity.rootFingerprint = 'AB:'.repeat(31) + 'AB';
  const leaves = mutations(full);
  t.is(leaves.length, SETTING_NAMES.length, 'one setting per leaf of DaemonConfig');
  for (const { path, changed } of leaves) {
    const plan = planReload(full, changed);
    t.is(
      plan.applied.length + plan.needRestart.length,
      1,
      `changing ${path} should be reported once, got ${JSON.stringify({ applied: plan.applied, restart: plan.needRestart.map((c) => c.setting) })}`,
    );
  }
});

interface Captured {
  lines: { level: number; msg: string; [k: string]: unknown }[];
  log: Logger;
}

function capturedLogger(): Captured {
  const lines: Captured['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Captured['lines'][number]);
      done();
    },
  });
  const log: Logger = pino<never>({ level: 'trace' }, sink);
  return { lines, log };
}

function settingsFile(t: import('ava').ExecutionContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ambitd.yaml');
  writeFileSync(file, text);
  return file;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Runs a reload from `text` against the defaults, with a daemon that records what it is handed. */
async function reloadFrom(t: import('ava').ExecutionContext, text: string) {
  const file = settingsFile(t, text);
  const { lines, log } = capturedLogger();
  const calls: DaemonConfig[] = [];
  const current = base();
  const after = await reloadDaemonConfig({ path: file, overrides: FLAGS, current, daemon: { reconfigure: async (c) => void calls.push(c) }, log });
  await settle();
  return { file, lines, calls, current, after, warnings: lines.filter((l) => l.level === 40) };
}

test('reloadDaemonConfig: a file that does not parse keeps every setting and logs file:line', async (t) => {
  const { file, lines, calls, current, after } = await reloadFrom(t, 'logLevel: debug\nports:\n  admin: 99999\n');
  t.is(after, current);
  t.deepEqual(calls, []);
  const error = lines.find((l) => l.level === 50);
  t.truthy(error, JSON.stringify(lines));
  t.true(error!.msg.includes(`${file}:3`), error!.msg);
});

test('reloadDaemonConfig: live changes reach the daemon, restart-only ones are warned about by name', async (t) => {
  const { calls, after, warnings } = await reloadFrom(t, 'logLevel: info\ndrainTimeout: 3s\nports: {inbound: 16008}\n');
  t.is(calls.length, 1);
  t.is(calls[0]!.drainTimeoutMs, 3000);
  t.is(calls[0]!.ports.inbound, 15008, 'the daemon keeps its port');
  t.is(after, calls[0]!);
  t.is(warnings.length, 1);
  t.is(warnings[0]!.setting, 'ports.inbound');
  t.regex(warnings[0]!.msg, /ports\.inbound changed .* needs a restart/);
});

test('reloadDaemonConfig: a flag still overrides the file, so a file change under it is no change', async (t) => {
  const { calls, after, warnings } = await reloadFrom(t, 'node: {name: from-file}\n');
  t.is(after.node.name, 'n1');
  t.deepEqual(warnings, [], 'no restart warning for node.name: --node-name wins');
  t.deepEqual(calls, []);
});

test('reloadDaemonConfig: the deprecated keepRulesOnExit is warned about, and changes nothing (fail closed either way)', async (t) => {
  const { file, calls, warnings } = await reloadFrom(t, 'capture: {keepRulesOnExit: false}\n');
  t.deepEqual(calls, [], 'failOpen stays false: nothing to apply');
  t.is(warnings.length, 1);
  t.true(warnings[0]!.msg.startsWith(`${file}: capture.keepRulesOnExit is deprecated`), warnings[0]!.msg);
  t.regex(warnings[0]!.msg, /capture\.failOpen: true/);
});

test('reloadDaemonConfig: failOpen applies live (read at stop time)', async (t) => {
  const { calls } = await reloadFrom(t, 'capture: {failOpen: true}\n');
  t.is(calls.length, 1);
  t.true(calls[0]!.capture.failOpen);
});

/**
 * Joining without trust on first use, with the real CLI (and ambitd) against
 * a real Redis and a running signer. The operator's token carries the mesh
 * root's fingerprint (the one `ambit ca init` and `ambit ca show` print, and
 * openssl computes); `ambit node join` adopts the store's trust bundle only if
 * that root signed it. An attacker with full write access to Redis who swaps
 * the bundle for their own root (alone, or listed beside the real one) gets
 * every join refused with both fingerprints named, and the refused join leaves
 * nothing behind: no key, no certificate, not one changed Redis key.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startSigner } from '../../core/identity/signer/index.js';
import { identityKeys } from '../../core/identity/store/index.js';
import { Store } from '../../core/store/index.js';
import { ambit, REPO_ROOT } from '../helpers/cli.js';
import { forgeBundle } from '../helpers/forged-bundle.js';
import { freePortBlock } from '../helpers/port-block.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const AMBITD = fileURLToPath(new URL('../../../bin/ambitd.js', import.meta.url));
const FINGERPRINT = /[0-9A-F]{2}(?::[0-9A-F]{2}){31}/;
let redis: RedisServer;
let tmp: string;
let n = 0;
test.before(async () => {
  redis = await startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'ambit-join-pin-'));
});
test.after.always(async () => {
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

interface Mesh {
  env: NodeJS.ProcessEnv;
  prefix: string;
  dir: string;
  store: Store;
  /** What `ambit ca init` printed as the root fingerprint. */
  root: string;
  token(node: string): Promise<string>;
  /** Every key under the mesh's prefix with its DUMP: equal before and after means nothing was written. */
  state(): Promise<string>;
  /** Writes an attacker's bundle over the real one, as a Redis user with full access would. */
  forge(options?: { alsoListRealRoot?: boolean }): Promise<string>;
}

/** `ambit ca init` with the CLI, and a signer running, under a prefix of its own. */
async function mesh(t: ExecutionContext): Promise<Mesh> {
  const prefix = `pin${++n}:`;
  const dir = join(tmp, `mesh${n}`);
  const env = { AMBIT_REDIS_URL: redis.url, AMBIT_REDIS_KEY_PREFIX: prefix, AMBIT_OPERATOR_DIR: join(dir, 'operator') };
  const init = await ambit(['ca', 'init', '--ca-dir', join(dir, 'ca')], { env });
  t.is(init.code, 0, init.stderr);
  const root = new RegExp(`root fingerprint \\(SHA-256\\) (${FINGERPRINT.source})`).exec(init.stdout)?.[1];
  if (!root) throw new Error(`ca init printed no fingerprint: ${init.stdout}`);
  const store = await Store.connect({ url: redis.url, keyPrefix: prefix });
  const signer = await startSigner({ store, caDir: join(dir, 'ca') });
  t.teardown(async () => {
    await signer.stop();
    await store.close();
  });
  return {
    env,
    prefix,
    dir,
    store,
    root,
    async token(node) {
      const r = await ambit(['node', 'token', 'create', '--node', node, '--ttl', '10m'], { env });
      t.is(r.code, 0, r.stderr);
      return r.stdout.trim();
    },
    async state() {
      const keys = (await store.scanKeys(`${prefix}*`)).sort();
      const dump: string[] = [];
      for (const k of keys) dump.push(`${k} ${JSON.stringify(await store.redis.dump(k))} ttl=${(await store.redis.ttl(k)) > 0}`);
      return dump.join('\n');
    },
    async forge(options = {}) {
      const key = identityKeys(store).bundle;
      const revision = Number(await store.redis.hget(key, 'revision'));
      const real = JSON.parse((await store.redis.hget(key, 'bundle'))!) as { roots: string[] };
      const forged = await forgeBundle('cluster.local', { sequence: revision + 1, ...(options.alsoListRealRoot ? { alsoList: real.roots } : {}) });
      await store.redis.hset(key, { ...forged.fields, revision: revision + 1 });
      return forged.ca.root.native.fingerprint256;
    },
  };
}

async function opensslFingerprint(pemFile: string): Promise<string> {
  const { stdout } = await promisify(execFile)('openssl', ['x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256']);
  return FINGERPRINT.exec(stdout)![0];
}

function join_(m: Mesh, node: string, token: string, extra: string[] = []) {
  return ambit(['--debug', 'node', 'join', '--token', token, '--node', node, '--dir', join(m.dir, node), '--timeout', '5s', ...extra], { env: m.env });
}

test.serial(
  'ca init and ca show print the root fingerprint openssl computes; the token carries it; join with it, or with it given again, succeeds',
  async (t) => {
    const m = await mesh(t);
    t.is(m.root, await opensslFingerprint(join(m.dir, 'ca', 'root-cert.pem')));
    const show = await ambit(['ca', 'show', '--ca-dir', join(m.dir, 'ca')], { env: m.env });
    t.is(show.code, 0, show.stderr);
    t.regex(show.stdout, new RegExp(`^root fingerprint: ${m.root}$`, 'm'));
    t.regex(show.stdout, new RegExp(`^pin to join:\\s+${m.root}\\s`, 'm'));
    const json = JSON.parse((await ambit(['ca', 'show', '--ca-dir', join(m.dir, 'ca'), '-o', 'json'], { env: m.env })).stdout) as { pin: string };
    t.is(json.pin, m.root);

    const token = await m.token('a');
    t.true(token.endsWith(`.${m.root.replace(/:/g, '').toLowerCase()}`), token);
    const a = await join_(m, 'a', token);
    t.is(a.code, 0, a.stderr);
    t.regex(a.stdout, /^joined as spiffe:\/\/cluster\.local\/ambit\/node\/a /);
    // Given out of band as well, in another spelling: bare lower-case hex.
    const b = await join_(m, 'b', await m.token('b'), ['--root-fingerprint', m.root.replace(/:/g, '').toLowerCase()]);
    t.is(b.code, 0, b.stderr);
    t.true(existsSync(join(m.dir, 'b', 'node-key.pem')));
  },
);

test.serial('a bundle swapped for an attacker root with full Redis access: join refused naming both roots, nothing written', async (t) => {
  const m = await mesh(t);
  const token = await m.token('a');
  for (const alsoListRealRoot of [false, true]) {
    // Listing the real root beside the attacker's, signed with the attacker's key, proves nothing either.
    const attacker = await m.forge({ alsoListRealRoot });
    const before = await m.state();
    const r = await join_(m, 'a', token);
    t.is(r.code, 1, r.stdout);
    t.regex(
      r.stderr,
      /^error: join refused, nothing written: the join token expects root (\S+), but the trust bundle in the store is signed by root (\S+); check that you are pointing at the right store .*rewrote the trust bundle \(an attacker\)/,
    );
    t.true(r.stderr.includes(`expects root ${m.root}`), r.stderr);
    t.true(r.stderr.includes(`signed by root ${attacker}`), r.stderr);
    t.regex(r.stderr, /\[EIDENTITY_ROOT_MISMATCH\]/);
    t.false(existsSync(join(m.dir, 'a')), 'no key, certificate or credentials file');
    t.is(await m.state(), before, 'not one Redis key written: no join request, the token not consumed, no node record');
  }
  // Stripped of its signature the bundle is refused as well, naming the root expected.
  await m.store.redis.hdel(identityKeys(m.store).bundle, 'signed');
  const before = await m.state();
  const unsigned = await join_(m, 'a', token);
  t.is(unsigned.code, 1);
  t.regex(unsigned.stderr, new RegExp(`is not signed by its own root .* and the join token expects root ${m.root}.*\\[EIDENTITY_BUNDLE_UNSIGNED\\]`));
  t.false(existsSync(join(m.dir, 'a')));
  t.is(await m.state(), before);
  // Nor does the operator mint a token against a rewritten bundle.
  await m.forge();
  const mint = await ambit(['node', 'token', 'create', '--node', 'c'], { env: m.env });
  t.is(mint.code, 1);
  t.regex(mint.stderr, /^error: no token made: the store's trust bundle is not signed by a root this operator trusts/);
});

test.serial(
  '--root-fingerprint that disagrees with the token, or is not a fingerprint, is refused before the store is asked; a token without one needs it',
  async (t) => {
    const m = await mesh(t);
    const token = await m.token('a');
    const other = '01:'.repeat(31) + '01';
    const before = await m.state();
    const conflict = await join_(m, 'a', token, ['--root-fingerprint', other]);
    t.is(conflict.code, 1);
    t.true(conflict.stderr.includes(`--root-fingerprint is ${other} but the join token pins root ${m.root}`), conflict.stderr);
    t.regex(conflict.stderr, /\[EIDENTITY_ROOT_PIN_CONFLICT\]/);
    const bad = await join_(m, 'a', token, ['--root-fingerprint', 'abcd']);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /^error: --root-fingerprint: "abcd" is not a SHA-256 fingerprint.*\[EIDENTITY_BAD_FINGERPRINT\]/);
    // A token as an older ambit made them (no fingerprint): nothing vouches for the store's root.
    const bare = token.slice(0, token.lastIndexOf('.'));
    const unpinned = await join_(m, 'a', bare);
    t.is(unpinned.code, 1);
    t.regex(unpinned.stderr, /carries no root fingerprint .*--root-fingerprint.*\[EIDENTITY_ROOT_UNPINNED\]/);
    t.false(existsSync(join(m.dir, 'a')));
    t.is(await m.state(), before, 'refused before the store was asked anything');
    // With the root given out of band, a forged store is caught the same way.
    const attacker = await m.forge();
    const afterForge = await m.state();
    const mismatch = await join_(m, 'a', bare, ['--root-fingerprint', m.root]);
    t.is(mismatch.code, 1);
    t.true(
      mismatch.stderr.includes(`--root-fingerprint expects root ${m.root}, but the trust bundle in the store is signed by root ${attacker}`),
      mismatch.stderr,
    );
    t.false(existsSync(join(m.dir, 'a')));
    t.is(await m.state(), afterForge, 'the refused join wrote nothing');
  },
);

/** ambitd's first start with a token, capture off, on free loopback ports; resolves with its exit code and output. */
async function firstStart(m: Mesh, node: string, token: string, settings: string): Promise<{ code: number | null; output: string }> {
  const base = await freePortBlock(5);
  const config = join(m.dir, `${node}.yaml`);
  await writeFile(
    config,
    `node: {name: ${node}, address: 127.0.0.1}\nstore: {url: "${redis.url}", keyPrefix: "${m.prefix}"}\nidentity: {dir: ${join(m.dir, node)}${settings}}\n` +
      `ports: {outbound: ${base}, inbound: ${base + 1}, dns: ${base + 2}, admin: ${base + 3}, metrics: ${base + 4}}\n` +
      'capture: {enabled: false}\ndns: {upstreams: ["127.0.0.1:9"]}\n',
  );
  const child = spawn(process.execPath, [AMBITD, '--config', config, '--token', token], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const code = await new Promise<number | null>((resolve) => {
    // Bounded: a daemon that joined would run on; stop it and report that.
    const timer = setTimeout(() => child.kill('SIGTERM'), 20_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, output };
}

test.serial('ambitd first start: identity.rootFingerprint must agree with the token, and a forged bundle stops it with nothing written', async (t) => {
  const m = await mesh(t);
  const token = await m.token('a');
  const other = 'ab'.repeat(32);
  const conflict = await firstStart(m, 'a', token, `, rootFingerprint: "${other}"`);
  t.is(conflict.code, 1, conflict.output);
  t.regex(conflict.output, /"code":"EIDENTITY_ROOT_PIN_CONFLICT"/);
  t.true(conflict.output.includes(`identity.rootFingerprint is ${'AB:'.repeat(31)}AB but the join token pins root ${m.root}`), conflict.output);

  const attacker = await m.forge({ alsoListRealRoot: true });
  const before = await m.state();
  const forged = await firstStart(m, 'a', token, `, rootFingerprint: "${m.root.toLowerCase()}"`);
  t.is(forged.code, 1, forged.output);
  t.regex(forged.output, /"code":"EIDENTITY_ROOT_MISMATCH"/);
  t.true(forged.output.includes(`expects root ${m.root}, but the trust bundle in the store is signed by root ${attacker}`), forged.output);
  t.false(existsSync(join(m.dir, 'a')), 'no key, certificate or credentials file');
  t.is(await m.state(), before, 'the refused first start wrote nothing to the store');
});

test.serial('mid-rotation a token pins the old root, which signed old + new; after --finish, the new one', async (t) => {
  const m = await mesh(t);
  const caDir = join(m.dir, 'ca');
  const rotate = await ambit(['ca', 'rotate', '--ca-dir', caDir], { env: m.env });
  t.is(rotate.code, 0, rotate.stderr);
  t.true(rotate.stdout.includes(`until then nodes joining pin the old root ${m.root}`), rotate.stdout);
  const show = JSON.parse((await ambit(['ca', 'show', '--ca-dir', caDir, '-o', 'json'], { env: m.env })).stdout) as {
    pin: string;
    root: { fingerprint: string };
    previous?: { fingerprint: string };
  };
  t.is(show.pin, m.root);
  t.is(show.previous?.fingerprint, m.root);
  const fresh = show.root.fingerprint;
  t.not(fresh, m.root);
  const during = await m.token('a');
  t.true(during.endsWith(m.root.replace(/:/g, '').toLowerCase()), 'the token pins the root that signed the bundle');
  const a = await join_(m, 'a', during);
  t.is(a.code, 0, a.stderr);
  const unused = await m.token('c');

  const finish = await ambit(['ca', 'rotate', '--finish', '--force', '--ca-dir', caDir], { env: m.env });
  t.is(finish.code, 0, finish.stderr);
  t.true(finish.stdout.includes(`nodes joining from now pin root ${fresh}`), finish.stdout);
  const after = await m.token('b');
  t.true(after.endsWith(fresh.replace(/:/g, '').toLowerCase()));
  const b = await join_(m, 'b', after, ['--root-fingerprint', fresh]);
  t.is(b.code, 0, b.stderr);
  // A token minted before --finish pins the old root, which no longer signs the bundle: a new token is needed.
  const stale = await join_(m, 'c', unused);
  t.is(stale.code, 1);
  t.true(stale.stderr.includes(`the join token expects root ${m.root}, but the trust bundle in the store is signed by root ${fresh}`), stale.stderr);
});

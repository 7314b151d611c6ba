/**
 * Operator tools do not take the store's word for the trust bundle either.
 * `ambit ca bundle` (whose output goes into CAfiles) prints the signed payload
 * once it verifies against the operator's roots, the CA directory or a given
 * fingerprint; `ambit ca rotate` extends the signed roots, checked against the
 * CA being rotated away from, and refuses a bundle that CA did not sign. Before
 * this, a Redis writer who replaced the plain `bundle` field got their root
 * printed, and got it countersigned by the old CA at the next rotation (so
 * every daemon would have trusted it).
 */
import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBundle, serializeBundle } from '../../core/identity/bundle.js';
import { identityKeys } from '../../core/identity/store/index.js';
import { openSignedBundle } from '../../core/identity/trust/signed-bundle.js';
import { Store } from '../../core/store/index.js';
import { ambit } from '../helpers/cli.js';
import { forgeBundle } from '../helpers/forged-bundle.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let tmp: string;
let n = 0;
test.before(async () => {
  redis = await startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'ambit-forged-bundle-'));
});
test.after.always(async () => {
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function mesh(t: ExecutionContext) {
  const prefix = `fb${++n}:`;
  const dir = join(tmp, `mesh${n}`);
  const env = { AMBIT_REDIS_URL: redis.url, AMBIT_REDIS_KEY_PREFIX: prefix, AMBIT_OPERATOR_DIR: join(dir, 'operator') };
  const caDir = join(dir, 'ca');
  const init = await ambit(['ca', 'init', '--ca-dir', caDir], { env });
  t.is(init.code, 0, init.stderr);
  const store = await Store.connect({ url: redis.url, keyPrefix: prefix });
  t.teardown(() => store.close());
  const key = identityKeys(store).bundle;
  const root = await readFile(join(caDir, 'root-cert.pem'), 'utf8');
  const signedRoots = async () => {
    const opened = openSignedBundle((await store.redis.hget(key, 'signed')) ?? undefined);
    return 'envelope' in opened ? opened.bundle.roots : [];
  };
  return { env, caDir, store, key, root, signedRoots };
}

test.serial("the plain bundle field rewritten: ca bundle prints the signed roots, and ca rotate extends those, not the store's", async (t) => {
  const m = await mesh(t);
  const attacker = await forgeBundle('cluster.local', { sequence: 99 });
  await m.store.redis.hset(m.key, 'bundle', serializeBundle(createBundle('cluster.local', [attacker.ca.root.pem])));
  const printed = await ambit(['ca', 'bundle'], { env: m.env });
  t.is(printed.code, 0, printed.stderr);
  t.is(printed.stdout, m.root);

  const rotate = await ambit(['ca', 'rotate', '--ca-dir', m.caDir], { env: m.env });
  t.is(rotate.code, 0, rotate.stderr);
  const roots = await m.signedRoots();
  t.is(roots.length, 2);
  t.is(roots[0], m.root, 'old root, then the new one');
  t.false(roots.includes(attacker.ca.root.pem), "the old CA did not countersign the attacker's root");
});

test.serial('a bundle re-signed by an attacker root: ca bundle and ca rotate refuse it and change nothing', async (t) => {
  const m = await mesh(t);
  const forged = await forgeBundle('cluster.local', { sequence: 2, alsoList: [m.root] });
  await m.store.redis.hset(m.key, { ...forged.fields, revision: 2 });
  const before = JSON.stringify(await m.store.redis.hgetall(m.key));

  const printed = await ambit(['--debug', 'ca', 'bundle'], { env: m.env });
  t.is(printed.code, 1);
  t.is(printed.stdout, '');
  t.regex(printed.stderr, /^error: not printing the trust bundle: the store's trust bundle is not signed by a root you trust .*\[EIDENTITY_BUNDLE_UNSIGNED\]/);
  const pinned = await ambit(['--debug', 'ca', 'bundle', '--root-fingerprint', (await caShowPin(m.env, m.caDir)).toLowerCase()], { env: m.env });
  t.is(pinned.code, 1);
  t.regex(pinned.stderr, /--root-fingerprint expects root .* but the trust bundle in the store is signed by root .*\[EIDENTITY_ROOT_MISMATCH\]/);

  const rotate = await ambit(['--debug', 'ca', 'rotate', '--ca-dir', m.caDir], { env: m.env });
  t.is(rotate.code, 1);
  t.regex(
    rotate.stderr,
    /^error: refusing to rotate: the store's trust bundle is not signed by a root you trust .*nothing was changed.*\[EIDENTITY_BUNDLE_UNSIGNED\]/,
  );
  t.false(existsSync(join(m.caDir, 'previous')), 'the CA directory was not rotated');
  t.is(JSON.stringify(await m.store.redis.hgetall(m.key)), before, 'the store was not written');
});

test.serial('ca bundle on a host with neither operator key nor CA: only with --root-fingerprint', async (t) => {
  const m = await mesh(t);
  const bare = { ...m.env, AMBIT_OPERATOR_DIR: join(tmp, 'no-operator') };
  const refused = await ambit(['--debug', 'ca', 'bundle', '--ca-dir', join(tmp, 'no-ca')], { env: bare });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /this host has no root to check the store's bundle against .*pass --root-fingerprint.*\[EIDENTITY_ROOT_UNPINNED\]/);
  const pinned = await ambit(['ca', 'bundle', '--ca-dir', join(tmp, 'no-ca'), '--root-fingerprint', await caShowPin(m.env, m.caDir)], { env: bare });
  t.is(pinned.code, 0, pinned.stderr);
  t.is(pinned.stdout, m.root);
});

async function caShowPin(env: NodeJS.ProcessEnv, caDir: string): Promise<string> {
  return (JSON.parse((await ambit(['ca', 'show', '--ca-dir', caDir, '-o', 'json'], { env })).stdout) as { pin: string }).pin;
}

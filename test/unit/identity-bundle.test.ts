import test from 'ava';
import {
  addRoot,
  bundleOf,
  bundlePem,
  createBundle,
  createRootCA,
  parseBundle,
  removeRoot,
  rootFingerprint,
  serializeBundle,
} from '../../core/identity/index.js';
import { issueFor, openssl, tempDir, writeFiles } from './identity-fixtures.js';

test('serialize and parse round-trip; bundles are immutable values', async (t) => {
  const ca = await createRootCA({ trustDomain: 'mesh.example' });
  const bundle = bundleOf(ca);
  const back = parseBundle(serializeBundle(bundle));
  t.deepEqual(back, bundle);
  t.true(Object.isFrozen(back) && Object.isFrozen(back.roots));
});

test('adding is idempotent, a third root is refused, removal works by fingerprint or PEM', async (t) => {
  const [a, b, c] = await Promise.all([createRootCA(), createRootCA(), createRootCA()]);
  const one = bundleOf(a);
  t.is(addRoot(one, a.root.pem).roots.length, 1);
  const two = addRoot(one, b.root.pem);
  t.deepEqual(two.roots, [a.root.pem, b.root.pem]);
  t.throws(() => addRoot(two, c.root.pem), { code: 'EIDENTITY_BUNDLE_FULL', message: /remove the old root/ });
  t.deepEqual(removeRoot(two, rootFingerprint(a.root.pem)).roots, [b.root.pem]);
  t.deepEqual(removeRoot(two, rootFingerprint(a.root.pem).toLowerCase()).roots, [b.root.pem]);
  t.deepEqual(removeRoot(two, b.root.pem).roots, [a.root.pem]);
  t.throws(() => removeRoot(one, a.root.pem), { code: 'EIDENTITY_BUNDLE_EMPTY' });
  t.throws(() => removeRoot(one, c.root.pem), { code: 'ESTORE_NOT_FOUND' });
});

test('non-CA roots, empty bundles and malformed stored bundles are refused', async (t) => {
  const ca = await createRootCA();
  const { issued } = await issueFor(ca, 'spiffe://cluster.local/ns/a/sa/b');
  t.throws(() => createBundle('cluster.local', [issued.certPem]), { code: 'EIDENTITY_NOT_CA' });
  t.throws(() => createBundle('cluster.local', []), { code: 'EIDENTITY_BUNDLE_EMPTY' });
  t.throws(() => createBundle('Bad Domain', [ca.root.pem]), { code: 'EIDENTITY_INVALID_SPIFFE_ID' });
  t.throws(() => parseBundle('{'), { code: 'EIDENTITY_BUNDLE_INVALID' });
  t.throws(() => parseBundle('{"trustDomain":"x","roots":[1]}'), { code: 'EIDENTITY_BUNDLE_INVALID' });
  t.throws(() => parseBundle('null'), { code: 'EIDENTITY_BUNDLE_INVALID' });
});

test('bundlePem of a rotating bundle is a CAfile openssl verifies leaves of both roots with', async (t) => {
  const [oldCa, newCa] = await Promise.all([createRootCA(), createRootCA()]);
  const bundle = addRoot(bundleOf(oldCa), newCa.root.pem);
  const dir = await tempDir(t);
  const files = await writeFiles(dir, {
    'bundle.pem': bundlePem(bundle),
    'old.pem': (await issueFor(oldCa, 'spiffe://cluster.local/ns/a/sa/b')).issued.certPem,
    'new.pem': (await issueFor(newCa, 'spiffe://cluster.local/ns/a/sa/b')).issued.certPem,
  });
  const res = await openssl(['verify', '-x509_strict', '-CAfile', files['bundle.pem'], files['old.pem'], files['new.pem']]);
  t.is(res.code, 0, res.stderr + res.stdout);
  t.regex(res.stdout, /old\.pem: OK[\s\S]*new\.pem: OK/);
});

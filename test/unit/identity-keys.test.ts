import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, publicKeySpki, readKeyFile, writeKeyFile } from '../../core/identity/index.js';
import { openssl, tempDir } from './identity-fixtures.js';

const data = new TextEncoder().encode('hello');
const ecdsa = { name: 'ECDSA', hash: 'SHA-256' };

test('a generated P-256 key survives PKCS#8 PEM export and import', async (t) => {
  const keys = await generateKeyPair();
  const pem = await exportPrivateKeyPem(keys.privateKey);
  t.regex(pem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  const back = await importPrivateKeyPem(pem);
  t.deepEqual(await publicKeySpki(back.publicKey), await publicKeySpki(keys.publicKey));
  const sig = await crypto.subtle.sign(ecdsa, back.privateKey, data);
  t.true(await crypto.subtle.verify(ecdsa, keys.publicKey, sig, data));
});

test('key files are written 0600, openssl reads them, and are not overwritten unless asked', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'ca.key');
  const first = await generateKeyPair();
  await writeKeyFile(path, first.privateKey);
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.is((await openssl(['pkey', '-in', path, '-noout'])).code, 0);

  const second = await generateKeyPair();
  await t.throwsAsync(writeKeyFile(path, second.privateKey), { code: 'EIDENTITY_FILE_EXISTS', message: /refusing to overwrite/ });
  t.deepEqual(await publicKeySpki((await readKeyFile(path)).publicKey), await publicKeySpki(first.publicKey));

  await writeKeyFile(path, second.privateKey, { overwrite: true });
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.deepEqual(await publicKeySpki((await readKeyFile(path)).publicKey), await publicKeySpki(second.publicKey));
  t.deepEqual(await readdir(dir), ['ca.key'], 'no temporary file is left behind');
});

test('SEC1 EC keys and RSA keys from openssl import (plug-in CA roots)', async (t) => {
  const dir = await tempDir(t);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ec.pem')]);
  const sec1 = await readFile(join(dir, 'ec.pem'), 'utf8');
  t.regex(sec1, /BEGIN EC PRIVATE KEY/);
  t.is((await importPrivateKeyPem(sec1)).privateKey.algorithm.name, 'ECDSA');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'rsa.pem')]);
  t.is((await importPrivateKeyPem(await readFile(join(dir, 'rsa.pem'), 'utf8'))).privateKey.algorithm.name, 'RSASSA-PKCS1-v1_5');
});

test('unsupported and unreadable keys are refused with codes', async (t) => {
  const dir = await tempDir(t);
  await openssl(['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
  await t.throwsAsync(importPrivateKeyPem(await readFile(join(dir, 'ed.pem'), 'utf8')), { code: 'EIDENTITY_UNSUPPORTED_KEY', message: /ed25519/ });
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(dir, 'rsa1024.pem')]);
  await t.throwsAsync(importPrivateKeyPem(await readFile(join(dir, 'rsa1024.pem'), 'utf8')), { code: 'EIDENTITY_UNSUPPORTED_KEY' });
  await t.throwsAsync(importPrivateKeyPem('not a key'), { code: 'EIDENTITY_BAD_PEM' });
  await t.throwsAsync(readKeyFile(join(dir, 'missing.pem')), { code: 'EIDENTITY_FILE_NOT_FOUND', message: /private key file .*missing\.pem does not exist/ });
});

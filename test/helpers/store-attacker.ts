/**
 * An attacker who owns Redis (its admin user, full access) but holds no CA or
 * operator key, as a script an e2e test runs inside a netns host:
 *
 *   node dist/test/helpers/store-attacker.js <state dir> <action> [args...]
 *
 * Redis comes from ATTACKER_REDIS_URL, ATTACKER_REDIS_USER and
 * ATTACKER_REDIS_PASSWORD. Each action prints one JSON line. What it needs
 * between runs (its own CA, the records it overwrote so it can put them back)
 * lives in the state dir, so a test can undo one forgery before the next and
 * see each refused on its own. Nothing here is a test: it only writes and
 * reports; the test decides what that proves.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import { join } from 'node:path';
import type { Resource } from '../../core/config/resource.js';
import { createRootCA, type SigningCA } from '../../core/identity/ca.js';
import { loadCAFiles, writeCAFiles } from '../../core/identity/ca-load.js';
import { loadNodeIdentity, requestWorkloadCert, SignerClient } from '../../core/identity/client/index.js';
import { createCsr, verifyCsr } from '../../core/identity/csr.js';
import { generateKeyPair, exportPrivateKeyPem } from '../../core/identity/keys.js';
import { openManifest, signManifest, withResources } from '../../core/identity/manifest/format.js';
import { issueOperator } from '../../core/identity/operator.js';
import { issueCertificate } from '../../core/identity/sign.js';
import { parseSpiffeId } from '../../core/identity/spiffe.js';
import { identityKeys } from '../../core/identity/store/index.js';
import { Store } from '../../core/store/index.js';
import type { EndpointRecord } from '../../core/store/types.js';
import { forgeBundle as forgedBundle } from './forged-bundle.js';

const [stateArg, action, ...args] = process.argv.slice(2);
if (!stateArg || !action) throw new Error('usage: store-attacker.js <state dir> <action> [args...]');
const state: string = stateArg;
mkdirSync(state, { recursive: true });

const saved = <T>(name: string): T | undefined => (existsSync(join(state, name)) ? (JSON.parse(readFileSync(join(state, name), 'utf8')) as T) : undefined);
/** Keeps the first value only: what was there before the attacker touched it. */
const saveOnce = (name: string, value: unknown): void => {
  if (!existsSync(join(state, name))) writeFileSync(join(state, name), JSON.stringify(value));
};

async function attackerCA(): Promise<SigningCA> {
  const files = { certFile: join(state, 'ca-cert.pem'), keyFile: join(state, 'ca-key.pem') };
  if (existsSync(files.keyFile)) return loadCAFiles(files);
  const ca = await createRootCA({ trustDomain: 'cluster.local', commonName: 'ambit root CA cluster.local' });
  await writeCAFiles(ca, files);
  return ca;
}

function connectStore(): Promise<Store> {
  return Store.connect({
    url: process.env.ATTACKER_REDIS_URL!,
    ...(process.env.ATTACKER_REDIS_USER ? { username: process.env.ATTACKER_REDIS_USER } : {}),
    ...(process.env.ATTACKER_REDIS_PASSWORD ? { password: process.env.ATTACKER_REDIS_PASSWORD } : {}),
  });
}

function refOf(text: string): { kind: string; namespace: string; name: string } {
  const [kind, namespace, name] = text.split('/');
  return { kind: kind!, namespace: namespace!, name: name! };
}

/** The attacker's root listed beside the real ones, signed with the attacker's key: the bundle that fools a careless reader. */
async function forgeBundle(store: Store): Promise<unknown> {
  const key = identityKeys(store).bundle;
  const [bundle, signed, revision] = await store.redis.hmget(key, 'bundle', 'signed', 'revision');
  saveOnce('bundle.json', { bundle, signed });
  const next = Number(revision) + 1;
  const forged = await forgedBundle('cluster.local', { sequence: next, alsoList: (JSON.parse(bundle!) as { roots: string[] }).roots, ca: await attackerCA() });
  await store.redis.hset(key, { ...forged.fields, revision: next });
  await store.redis.publish(identityKeys(store).bundleChannel, JSON.stringify({ revision: next }));
  return { attackerRoot: forged.ca.root.native.fingerprint256, revision: next };
}

async function restoreBundle(store: Store): Promise<unknown> {
  const key = identityKeys(store).bundle;
  const original = saved<{ bundle: string; signed: string }>('bundle.json')!;
  const next = Number(await store.redis.hget(key, 'revision')) + 1;
  await store.redis.hset(key, { ...original, revision: next });
  await store.redis.publish(identityKeys(store).bundleChannel, JSON.stringify({ revision: next }));
  return { revision: next };
}

/** A workload certificate from the attacker's CA, presented on a daemon's 15008 as an HBONE client would. */
async function attackerHbone(target: string, authority: string, spiffeId: string): Promise<unknown> {
  const ca = await attackerCA();
  const keys = await generateKeyPair();
  const csr = await verifyCsr(await createCsr(spiffeId, keys), { trustDomain: 'cluster.local', expected: parseSpiffeId(spiffeId) });
  const leaf = await issueCertificate(ca, csr, { ttlSeconds: 3600 });
  const key = await exportPrivateKeyPem(keys.privateKey);
  return new Promise((resolve) => {
    const session = http2Connect(`https://${target}`, { key, cert: leaf.chainPem, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const done = (result: Record<string, unknown>) => {
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ error: 'timeout' }), 5_000);
    session.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    const stream = session.request({ ':method': 'CONNECT', ':authority': authority });
    stream.on('response', (headers) => done({ status: headers[':status'] }));
    stream.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    stream.on('close', () => done({ error: `stream closed (${stream.rstCode})` }));
  });
}

async function forgeEnrollment(store: Store, endpoint: EndpointRecord): Promise<unknown> {
  return store.enroll(endpoint);
}

async function dropEnrollment(store: Store, namespace: string, service: string, node: string): Promise<unknown> {
  return store.unenroll(namespace, service, { node });
}

async function savePolicy(store: Store, ref: string): Promise<Resource> {
  const current = await store.get(refOf(ref));
  if (!current) throw new Error(`no ${ref} in the store`);
  saveOnce('policy.json', current);
  saveOnce('manifest.json', await store.manifest());
  return current;
}

async function deletePolicy(store: Store, ref: string): Promise<unknown> {
  await savePolicy(store, ref);
  return store.delete([refOf(ref)]);
}

/**
 * The DENY's principal swapped for one nobody has, with a manifest to match,
 * signed by an "operator" the attacker's own CA certified: signed, but not by
 * anyone the mesh trusts.
 */
async function relaxPolicy(store: Store, ref: string, principal: string): Promise<unknown> {
  const current = await savePolicy(store, ref);
  const relaxed = JSON.parse(JSON.stringify(current)) as Resource & { spec: { rules: { from: { source: { principals: string[] } }[] }[] } };
  relaxed.spec.rules = [{ from: [{ source: { principals: [principal] } }] }];
  const operator = await issueOperator(await attackerCA(), join(state, 'operator'));
  const stored = await store.manifest();
  const body = withResources(openManifest(stored.record!)!.manifest, [relaxed]);
  const sequence = stored.sequence + 1;
  const result = await store.apply([relaxed], { expect: stored.sequence, sequence, record: signManifest(operator, body, sequence) });
  return { ...result, operator: operator.spiffeId.uri, sequence };
}

async function restorePolicy(store: Store): Promise<unknown> {
  const policy = saved<Resource>('policy.json')!;
  const manifest = saved<{ record: string; sequence: number }>('manifest.json')!;
  // Policy and the manifest it was signed with, in one write that goes through the change log as every write does.
  const current = await store.manifest();
  return store.apply([policy], { expect: current.sequence, sequence: manifest.sequence, record: manifest.record });
}

/** Run on a node with its own key and store user: ask the signer for an identity, as a compromised node would. */
async function requestCert(nodeDir: string, spiffeId: string): Promise<unknown> {
  const identity = await loadNodeIdentity(nodeDir);
  const store = await connectStore();
  const client = new SignerClient(store, identity.node, 10_000);
  try {
    const cert = await requestWorkloadCert(client, identity, spiffeId);
    return { issued: cert.serial };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? 'unknown', message: (err as Error).message };
  } finally {
    client.close();
    await store.close();
  }
}

async function main(): Promise<unknown> {
  if (action === 'attacker-hbone') return attackerHbone(args[0]!, args[1]!, args[2]!);
  if (action === 'request-cert') return requestCert(args[0]!, args[1]!);
  const store = await connectStore();
  try {
    switch (action) {
      case 'forge-bundle':
        return await forgeBundle(store);
      case 'restore-bundle':
        return await restoreBundle(store);
      case 'forge-enrollment':
        return await forgeEnrollment(store, JSON.parse(args[0]!) as EndpointRecord);
      case 'drop-enrollment':
        return await dropEnrollment(store, args[0]!, args[1]!, args[2]!);
      case 'delete-policy':
        return await deletePolicy(store, args[0]!);
      case 'relax-policy':
        return await relaxPolicy(store, args[0]!, args[1]!);
      case 'restore-policy':
        return await restorePolicy(store);
      default:
        throw new Error(`unknown action ${action}`);
    }
  } finally {
    await store.close();
  }
}

process.stdout.write(`${JSON.stringify(await main())}\n`);

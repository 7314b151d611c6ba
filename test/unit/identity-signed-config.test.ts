/**
 * Signed configuration (issue 13): the trust bundle signature and the
 * operator-signed security manifest, as pure decisions. Every refusal a
 * compromised store could provoke has a row here: unsigned, bad signature,
 * wrong chain, wrong signer, lower sequence, missing, extra and altered entries.
 */
import test, { type ExecutionContext } from 'ava';
import {
  addRoot,
  bundleOf,
  createBundle,
  createRootCA,
  issueCertificate,
  createCsr,
  verifyCsr,
  generateKeyPair,
  workloadId,
} from '../../core/identity/index.js';
import type { Resource } from '../../core/config/resource.js';
import { checkManifest } from '../../core/identity/manifest/check.js';
import { enrollmentDigest, resourceDigest, signManifest, withEnrollments, withResources, EMPTY_BODY } from '../../core/identity/manifest/format.js';
import { issueOperator, type Operator } from '../../core/identity/operator.js';
import { checkBundleUpdate, serializeSignedBundle, signBundle } from '../../core/identity/trust/signed-bundle.js';
import { parseEnvelope, serializeEnvelope } from '../../core/identity/trust/envelope.js';
import { stableJson } from '../../core/store/codec.js';
import { WAYPOINT_STATE_LABEL } from '../../core/store/waypoints.js';
import { createPrivateKey } from 'node:crypto';
import { exportPrivateKeyPem } from '../../core/identity/keys.js';
import { tempDir } from './identity-fixtures.js';
import { pino } from 'pino';
import { refKey } from '../../core/config/resource.js';
import { endpointKey } from '../../core/store/keys.js';
import type { EndpointRecord, Snapshot } from '../../core/store/types.js';
import { SignedConfigGate } from '../../daemon/signed-config.js';

const deny: Resource = {
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'deny-all', namespace: 'default' },
  spec: { action: 'DENY', rules: [{}] },
};
const vs: Resource = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r', namespace: 'default' }, spec: { hosts: ['r'] } };
const ep: EndpointRecord = {
  service: 'reviews',
  namespace: 'default',
  node: 'a',
  address: '10.0.0.1',
  port: 9080,
  serviceAccount: 'reviews',
  labels: { v: '1' },
};

async function setup(t: ExecutionContext) {
  const ca = await createRootCA();
  const operator = await issueOperator(ca, await tempDir(t));
  const bundle = bundleOf(ca);
  const body = withEnrollments(withResources(EMPTY_BODY, [deny, vs]), [ep]);
  return { ca, operator, bundle, body };
}

test('canonical form: key order does not change a digest, content does; store metadata and the waypoint-state label are not signed', (t) => {
  const reordered: Resource = { ...deny, spec: { rules: [{}], action: 'DENY' } };
  t.is(resourceDigest(reordered), resourceDigest(deny));
  t.not(resourceDigest({ ...deny, spec: { action: 'ALLOW', rules: [{}] } }), resourceDigest(deny));
  t.is(resourceDigest({ ...deny, metadata: { ...deny.metadata, resourceVersion: '7', generation: 2 } }), resourceDigest(deny));
  t.is(enrollmentDigest({ ...ep, labels: { ...ep.labels, [WAYPOINT_STATE_LABEL]: 'ready' } }), enrollmentDigest(ep));
  t.not(enrollmentDigest({ ...ep, serviceAccount: 'admin' }), enrollmentDigest(ep));
  t.not(enrollmentDigest({ ...ep, uid: 0 }), enrollmentDigest(ep));
  t.not(enrollmentDigest({ ...ep, labels: {} }), enrollmentDigest(ep), 'labels feed policy selectors');
  t.deepEqual(Object.keys(withResources(EMPTY_BODY, [deny, vs]).resources), ['AuthorizationPolicy/default/deny-all'], 'only security kinds are listed');
});

test('a signed manifest verifies and matches the store it describes; the payload is canonical JSON', async (t) => {
  const { operator, bundle, body } = await setup(t);
  const record = signManifest(operator, body, 3);
  const payload = parseEnvelope(record)!.payload;
  t.is(payload, stableJson(JSON.parse(payload)));
  const verdict = checkManifest({ record, bundle, lastSequence: 2, resources: [deny, vs], endpoints: [ep] });
  t.true(verdict.accept);
  t.is(verdict.accept && verdict.sequence, 3);
  t.true(checkManifest({ record, bundle, lastSequence: 3, resources: [deny], endpoints: [ep] }).accept, 'the same sequence again is fine');
});

test('decision table: every way a store writer could change security content is refused with its own reason', async (t) => {
  const { operator, bundle, body } = await setup(t);
  const record = signManifest(operator, body, 5);
  const base = { record, bundle, lastSequence: 0, resources: [deny], endpoints: [ep] };
  const reason = (o: Partial<typeof base>) => {
    const v = checkManifest({ ...base, ...o });
    return v.accept ? 'accepted' : v.reason;
  };
  // Another CA's operator, and a workload certificate of the right CA: neither may sign.
  const other = await issueOperator(await createRootCA(), await tempDir(t));
  const keys = await generateKeyPair();
  const ca = await createRootCA();
  const wl = await issueCertificate(ca, await verifyCsr(await createCsr(workloadId('cluster.local', 'default', 'x'), keys), { trustDomain: 'cluster.local' }), {
    ttlSeconds: 3600,
  });
  const workloadSigner: Operator = {
    ...operator,
    key: createPrivateKey(await exportPrivateKeyPem(keys.privateKey)),
    chainPem: wl.chainPem,
    roots: [ca.root.pem],
  };
  const env = parseEnvelope(record)!;
  const tampered = serializeEnvelope({ ...env, payload: env.payload.replace('"sequence":5', '"sequence":6') });

  t.is(reason({ record: undefined }), 'unsigned');
  t.is(reason({ record: undefined, resources: [], endpoints: [] }), 'accepted', 'an empty mesh needs no manifest');
  t.is(reason({ record: undefined, resources: [], endpoints: [], lastSequence: 1 }), 'unsigned', 'but not once one was accepted');
  t.is(reason({ record: '{"payload":1}' }), 'malformed');
  t.is(reason({ record: tampered }), 'bad-signature');
  t.is(reason({ record: signManifest(other, body, 5) }), 'untrusted-signer');
  t.is(reason({ record: signManifest(workloadSigner, body, 5), bundle: bundleOf(ca) }), 'wrong-signer');
  t.is(reason({ lastSequence: 6 }), 'rollback');
  t.is(reason({ resources: [] }), 'missing-entry', 'a deleted DENY');
  t.is(reason({ endpoints: [] }), 'missing-entry', 'a deleted enrollment');
  t.is(reason({ endpoints: [ep, { ...ep, service: 'evil', serviceAccount: 'evil' }] }), 'extra-entry', 'an injected enrollment');
  t.is(reason({ resources: [deny, { ...deny, metadata: { name: 'allow-all', namespace: 'default' } }] }), 'extra-entry', 'an injected policy');
  t.is(reason({ resources: [{ ...deny, spec: { action: 'ALLOW', rules: [{}] } }] }), 'digest-mismatch', 'an altered policy');
  t.is(reason({ endpoints: [{ ...ep, serviceAccount: 'admin' }] }), 'digest-mismatch', 'an enrollment given another identity');
  t.is(reason({ bundle: createBundle('other.example', bundle.roots) }), 'untrusted-signer');
  // A forged telemetry provider could collect request headers (customTags): telemetry and rate limits are signed too.
  const mesh: Resource = {
    apiVersion: 'ambit.dev/v1alpha1',
    kind: 'MeshConfig',
    metadata: { name: 'default', namespace: 'istio-system' },
    spec: { extensionProviders: [{ name: 'leak', zipkin: { service: '203.0.113.9', port: 9411 } }], defaultProviders: { tracing: ['leak'] } },
  };
  const headerTag: Resource = {
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: { name: 'mesh-default', namespace: 'istio-system' },
    spec: { tracing: [{ randomSamplingPercentage: 100, customTags: { auth: { header: { name: 'authorization' } } } }] },
  };
  const limit: Resource = { ...mesh, kind: 'RateLimit', metadata: { name: 'l', namespace: 'default' }, spec: {} };
  for (const injected of [mesh, headerTag, limit]) t.is(reason({ resources: [deny, injected] }), 'extra-entry', `an injected ${injected.kind}`);
});

test('bundle signatures: init self-signed, rotation signed by the old root, finish by the new; forged and replayed bundles refused', async (t) => {
  const oldCa = await createRootCA();
  const newCa = await createRootCA();
  const evil = await createRootCA();
  const b1 = bundleOf(oldCa);
  const s1 = serializeSignedBundle(await signBundle(b1, 1, oldCa));
  const first = checkBundleUpdate({ bundle: b1, sequence: 0 }, s1);
  t.true(first.accept);
  const b2 = addRoot(b1, newCa.root.pem);
  const s2 = serializeSignedBundle(await signBundle(b2, 2, oldCa));
  const rotated = checkBundleUpdate({ bundle: b1, sequence: 1 }, s2);
  t.true(rotated.accept && rotated.changed);
  const b3 = bundleOf(newCa);
  const s3 = serializeSignedBundle(await signBundle(b3, 3, newCa));
  t.true(checkBundleUpdate({ bundle: b2, sequence: 2 }, s3).accept);

  const refusal = (v: ReturnType<typeof checkBundleUpdate>) => (v.accept ? 'accepted' : v.reason);
  t.is(refusal(checkBundleUpdate({ bundle: b1, sequence: 1 }, undefined)), 'unsigned');
  // An attacker's root added to the bundle and signed by itself.
  const injected = serializeSignedBundle(await signBundle(addRoot(b1, evil.root.pem), 2, evil));
  t.is(refusal(checkBundleUpdate({ bundle: b1, sequence: 1 }, injected)), 'untrusted-signer');
  // The rotation bundle (old + new) replayed after --finish: signed by a root no longer trusted.
  t.is(refusal(checkBundleUpdate({ bundle: b3, sequence: 3 }, s2)), 'untrusted-signer');
  // The bundle before the rotation, replayed mid-rotation: signed by a trusted root but older.
  t.is(refusal(checkBundleUpdate({ bundle: b2, sequence: 2 }, s1)), 'rollback');
  const env = parseEnvelope(s2)!;
  t.is(
    refusal(checkBundleUpdate({ bundle: b1, sequence: 1 }, serializeEnvelope({ ...env, payload: env.payload.replace('"sequence":2', '"sequence":9') }))),
    'bad-signature',
  );
});

test('ambitd’s gate keeps the accepted sequence across a restart: a reopened gate refuses an older manifest, takes the current one', async (t) => {
  const { operator, bundle, body } = await setup(t);
  const dir = await tempDir(t);
  const snapshot = (record: string): Snapshot => ({
    revision: 1,
    resources: new Map([deny, vs].map((r) => [refKey(r), r])),
    services: new Map(),
    endpoints: new Map([[endpointKey(ep), ep]]),
    manifest: record,
  });
  const log = pino({ level: 'silent' });
  const first = await SignedConfigGate.open(dir, log);
  t.true(first.check(snapshot(signManifest(operator, body, 5)), bundle).accept);
  await first.flushed();
  const reopened = await SignedConfigGate.open(dir, log);
  t.is(reopened.lastSequence, 5);
  const older = reopened.check(snapshot(signManifest(operator, body, 4)), bundle);
  t.false(older.accept);
  t.is(!older.accept && older.reason, 'rollback');
  t.true(reopened.check(snapshot(signManifest(operator, body, 5)), bundle).accept);
});

import test from 'ava';
import {
  fromIstioPrincipal,
  isValidTrustDomain,
  nodeId,
  parseSpiffeId,
  toIstioPrincipal,
  trustDomainId,
  tryParseSpiffeId,
  workloadId,
} from '../../core/identity/index.js';

test('workload IDs parse into namespace and service account', (t) => {
  const id = parseSpiffeId('spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
  t.like(id, {
    kind: 'workload',
    trustDomain: 'cluster.local',
    path: '/ns/default/sa/bookinfo-reviews',
    namespace: 'default',
    serviceAccount: 'bookinfo-reviews',
  });
  t.is(workloadId('cluster.local', 'default', 'bookinfo-reviews').uri, id.uri);
});

test('node, trust-domain and other IDs are told apart', (t) => {
  t.like(parseSpiffeId('spiffe://mesh.example/ambit/node/host-a'), { kind: 'node', node: 'host-a' });
  t.is(nodeId('mesh.example', 'host-a').uri, 'spiffe://mesh.example/ambit/node/host-a');
  t.like(parseSpiffeId('spiffe://mesh.example'), { kind: 'trust-domain', path: '' });
  t.is(trustDomainId('mesh.example').uri, 'spiffe://mesh.example');
  t.like(parseSpiffeId('spiffe://mesh.example/ns/a/sa/b/extra'), { kind: 'other' });
  t.like(parseSpiffeId('spiffe://mesh.example/payments/api'), { kind: 'other', path: '/payments/api' });
});

test('Istio principals are SPIFFE IDs without the scheme, both ways', (t) => {
  const id = workloadId('cluster.local', 'foo', 'sleep');
  t.is(toIstioPrincipal(id), 'cluster.local/ns/foo/sa/sleep');
  t.is(fromIstioPrincipal('cluster.local/ns/foo/sa/sleep').uri, id.uri);
  t.is(fromIstioPrincipal('spiffe://cluster.local/ns/foo/sa/sleep').uri, id.uri);
  t.throws(() => fromIstioPrincipal('cluster.local/ns/foo/*'), { code: 'EIDENTITY_INVALID_SPIFFE_ID', message: /wildcard/ });
});

const invalid: [string, RegExp][] = [
  ['http://cluster.local/ns/a/sa/b', /must start with "spiffe:\/\/"/],
  ['SPIFFE://cluster.local/ns/a/sa/b', /must start/],
  ['spiffe://', /trust domain is empty/],
  ['spiffe:///ns/a/sa/b', /trust domain is empty/],
  ['spiffe://Cluster.Local/ns/a', /lowercase/],
  ['spiffe://cluster.local:8080/ns/a', /lowercase/],
  ['spiffe://user@cluster.local/ns/a', /lowercase/],
  ['spiffe://cluster.local/', /empty segment/],
  ['spiffe://cluster.local/ns//sa/b', /empty segment/],
  ['spiffe://cluster.local/ns/a/sa/b/', /empty segment/],
  ['spiffe://cluster.local/ns/../sa/b', /"\." and "\.\."/],
  ['spiffe://cluster.local/ns/a/sa/b?x=1', /may only hold/],
  ['spiffe://cluster.local/ns/a/sa/b#frag', /may only hold/],
  ['spiffe://cluster.local/ns/a%20b/sa/c', /may only hold/],
  [`spiffe://cluster.local/${'a'.repeat(2100)}`, /longer than 2048/],
  [`spiffe://${'a'.repeat(256)}`, /longer than 255/],
];

for (const [input, why] of invalid) {
  test(`refuses ${input.slice(0, 48)}`, (t) => {
    t.throws(() => parseSpiffeId(input), { code: 'EIDENTITY_INVALID_SPIFFE_ID', message: why });
    t.is(tryParseSpiffeId(input), undefined);
  });
}

test('trust domain validation', (t) => {
  t.true(isValidTrustDomain('cluster.local'));
  t.true(isValidTrustDomain('prod_mesh-1.example.org'));
  t.false(isValidTrustDomain('Prod'));
  t.false(isValidTrustDomain(''));
  t.throws(() => workloadId('bad domain', 'a', 'b'), { code: 'EIDENTITY_INVALID_SPIFFE_ID' });
  t.throws(() => workloadId('cluster.local', 'a/b', 'c'), { code: 'EIDENTITY_INVALID_SPIFFE_ID' });
});

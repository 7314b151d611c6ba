/** MeshState: the per-snapshot indexes the proxies read per connection. */
import test from 'ava';
import { formatAuthority as addressKey } from '../../core/hbone/authority.js';
import { identityOf } from '../../core/mesh/index.js';
import { endpoint, resource, state } from './support/daemon-fixtures.js';

const productpage = endpoint({ service: 'productpage', node: 'a', address: '10.0.0.1', port: 9080, uid: 2001 });
const reviewsA = endpoint({ service: 'reviews', node: 'a', address: '10.0.0.1', port: 9081, uid: 2002, labels: { version: 'v1' } });
const reviewsB = endpoint({ service: 'reviews', node: 'b', address: '10.0.0.2', port: 9081, serviceAccount: 'bookinfo-reviews' });
const local127 = endpoint({ service: 'cache', node: 'a', address: '127.0.0.1', port: 6379, uid: 2003 });
const all = [productpage, reviewsA, reviewsB, local127];

test('services are indexed by VIP and by FQDN, endpoints sorted by address', (t) => {
  const s = state(all);
  const byName = s.serviceByName('reviews.default.svc.cluster.local');
  t.truthy(byName);
  t.is(s.serviceByVip(byName!.record.vip!), byName);
  t.deepEqual(
    byName!.endpoints.map((ep) => ep.address),
    ['10.0.0.1', '10.0.0.2'],
  );
  t.is(s.serviceByName('reviews.other.svc.cluster.local'), undefined);
  t.is(s.serviceByVip('240.240.9.9'), undefined);
  t.is(s.services().length, 3);
  t.is(s.revision, 7);
});

test('the FQDN uses the configured mesh domain', (t) => {
  const s = state(all, [], { domain: 'mesh.example' });
  t.truthy(s.serviceByName('reviews.default.svc.mesh.example'));
  t.is(s.serviceByName('reviews.default.svc.cluster.local'), undefined);
});

test('local and remote endpoints: only this node’s are local', (t) => {
  const s = state(all);
  t.is(s.endpointAt('10.0.0.2', 9081), reviewsB);
  t.is(s.localEndpoint('10.0.0.2', 9081), undefined, 'b’s endpoint is not local to a');
  t.is(s.localEndpoint('10.0.0.1', 9081), reviewsA);
  t.deepEqual(
    s
      .localEndpoints()
      .map((ep) => ep.service)
      .sort(),
    ['cache', 'productpage', 'reviews'],
  );
  t.true(s.isLocal(reviewsA));
  t.false(s.isLocal(reviewsB));
  const onB = state(all, [], { nodeName: 'b' });
  t.is(onB.localEndpoint('10.0.0.2', 9081), reviewsB);
  t.deepEqual(onB.captureUids(), [], 'b has no endpoints with a uid');
});

test('uids map to this node’s workloads only', (t) => {
  const s = state(all);
  t.is(s.workloadForUid(2001), productpage);
  t.is(s.workloadForUid(9999), undefined);
  t.deepEqual(s.captureUids(), [2001, 2002, 2003]);
});

test('identities are SPIFFE IDs from the trust domain and service account', (t) => {
  const s = state(all, [], { trustDomain: 'corp.example' });
  t.is(s.identityOf(reviewsB), 'spiffe://corp.example/ns/default/sa/bookinfo-reviews');
  t.deepEqual(s.localIdentities(), [
    'spiffe://corp.example/ns/default/sa/cache',
    'spiffe://corp.example/ns/default/sa/productpage',
    'spiffe://corp.example/ns/default/sa/reviews',
  ]);
  t.is(identityOf('cluster.local', productpage), 'spiffe://cluster.local/ns/default/sa/productpage');
});

test('peerFor names the endpoint’s node address and HBONE port, falling back to the endpoint itself', (t) => {
  const s = state(all);
  t.deepEqual(s.peerFor(reviewsB), { host: '10.0.0.2', port: 15118, node: 'b' });
  const orphan = endpoint({ service: 'x', node: 'gone', address: '10.0.0.9', port: 1 });
  t.deepEqual(s.peerFor(orphan), { host: '10.0.0.9', port: 15008, node: 'gone' });
});

test('strictPorts lists local ports whose PeerAuthentication is STRICT', (t) => {
  t.deepEqual(state(all).strictPorts(), []);
  const strictReviews = resource('PeerAuthentication', 'reviews', { selector: { matchLabels: { version: 'v1' } }, mtls: { mode: 'STRICT' } });
  t.deepEqual(state(all, [strictReviews]).strictPorts(), [9081]);
  const strictNs = resource('PeerAuthentication', 'default', { mtls: { mode: 'STRICT' }, portLevelMtls: { '6379': { mode: 'PERMISSIVE' } } });
  t.deepEqual(state(all, [strictNs]).strictPorts(), [9080, 9081]);
});

test('endpointAddresses covers every node’s endpoints but never loopback', (t) => {
  t.deepEqual(state(all).endpointAddresses(), ['10.0.0.1', '10.0.0.2']);
  const v6 = endpoint({ service: 'v6', node: 'b', address: '::1', port: 80 });
  t.false(
    state([...all, v6])
      .endpointAddresses()
      .includes('::1'),
  );
});

test('policies that do not compile make the constructor throw (the daemon keeps the last good state)', (t) => {
  const bad = resource('AuthorizationPolicy', 'bad', { rules: [{ to: [{ operation: { paths: ['/{**}/x/{**}'] } }] }] });
  t.throws(() => state(all, [bad]));
});

test('addressKey brackets IPv6', (t) => {
  t.is(addressKey('10.0.0.1', 80), '10.0.0.1:80');
  t.is(addressKey('fd00::1', 80), '[fd00::1]:80');
});

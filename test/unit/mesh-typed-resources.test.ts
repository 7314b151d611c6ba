/** The mesh state parses each stored resource once, and a stored resource its schema refuses is never guessed at. */
import test from 'ava';
import { MeshError, NodeList } from '../../core/mesh/index.js';
import type { NodeRecord } from '../../core/store/types.js';
import { endpoint, resource, state } from './support/daemon-fixtures.js';

const reviews = endpoint({ service: 'reviews', node: 'a', address: '10.0.0.1', port: 9080, uid: 1001 });

test('typed resources: hosts qualified in the mesh domain, durations in ms, kinds apart', (t) => {
  const vs = resource('VirtualService', 'reviews', { hosts: ['reviews'], http: [{ timeout: '2s', route: [{ destination: { host: 'reviews' } }] }] });
  const s = state([reviews], [vs, resource('DestinationRule', 'reviews', { host: 'reviews' })], { domain: 'mesh.test' });
  const [typed] = s.typed.of('VirtualService');
  t.deepEqual(typed?.spec.hosts, ['reviews.default.svc.mesh.test']);
  t.is(typed?.spec.http?.[0]?.timeout, 2000);
  t.is(s.typed.of('DestinationRule').length, 1);
  t.deepEqual(s.typed.of('ServiceEntry'), []);
  t.is(s.resources.length, 2, 'the stored documents are kept as written');
});

test('a stored routing resource its schema refuses is left out and listed, the rest of the snapshot serves', (t) => {
  const bad = resource('VirtualService', 'broken', {
    hosts: ['reviews'],
    http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 'many' } }],
  });
  const s = state([reviews], [bad, resource('DestinationRule', 'reviews', { host: 'reviews' })]);
  t.deepEqual(s.typed.of('VirtualService'), []);
  t.is(s.rejected.length, 1);
  t.is(s.rejected[0]?.key, 'VirtualService/default/broken');
  t.regex(s.rejected[0]?.reason ?? '', /attempts/);
  t.truthy(s.serviceByVip('240.240.0.1'));
});

test('a stored ServiceEntry with a field the schema refuses is not routed with guessed defaults', (t) => {
  const bad = resource('ServiceEntry', 'ext', { hosts: ['api.example.com'], addresses: ['203.0.113.9'], ports: [{ number: 'https' }], resolution: 'STATIC' });
  const s = state([reviews], [bad]);
  t.is(s.serviceEntryAt('203.0.113.9', 443), undefined);
  t.deepEqual(s.serviceEntryCidrs(), []);
  t.is(s.rejected[0]?.key, 'ServiceEntry/default/ext');
});

for (const kind of ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication'] as const) {
  test(`a stored ${kind} its schema refuses refuses the whole snapshot (fail closed)`, (t) => {
    const bad = resource(kind, 'deny-all', { action: 'DENY', mtls: 7, jwtRules: 'x', rules: 'everything' });
    const err = t.throws(() => state([reviews], [bad]), { instanceOf: MeshError });
    t.is(err?.code, 'EMESH_POLICY_INVALID');
    t.deepEqual(err?.context.resources, [`${kind}/default/deny-all`]);
  });
}

test('the node list reports a change only when a tunnel depends on it', async (t) => {
  let nodes: NodeRecord[] = [{ name: 'a', address: '10.0.0.1', hbonePort: 15008, lastSeen: 1 }];
  let fail = false;
  const list = new NodeList({ listNodes: async () => (fail ? Promise.reject(new Error('down')) : nodes) });
  t.true(await list.refresh(), 'the first list is a change');
  nodes = [{ ...nodes[0]!, lastSeen: 2 }];
  t.false(await list.refresh(), 'a heartbeat alone is not');
  nodes = [{ ...nodes[0]!, hbonePort: 15118 }];
  t.true(await list.refresh());
  fail = true;
  await t.throwsAsync(() => list.refresh());
  t.is(list.current[0]?.hbonePort, 15118, 'a failed read keeps the last list');
});

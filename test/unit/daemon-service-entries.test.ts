/** ServiceEntry and WorkloadEntry as the daemon routes them (Istio semantics), through MeshState. */
import test from 'ava';
import { ALLOCATED_ADDRESSES_ANNOTATION } from '../../core/config/service-entry-addresses.js';
import { endpoint, resource, state } from './support/daemon-fixtures.js';

const allocated = (byHost: string) => ({ annotations: { [ALLOCATED_ADDRESSES_ANNOTATION]: byHost } });

const external = resource(
  'ServiceEntry',
  'payments',
  {
    hosts: ['api.pay.example', 'pay.example'],
    location: 'MESH_EXTERNAL',
    resolution: 'STATIC',
    ports: [{ number: 443, name: 'https', protocol: 'TLS', targetPort: 8443 }],
    endpoints: [{ address: '192.0.2.10' }, { address: '192.0.2.11', ports: { https: 9443 } }],
  },
  allocated('api.pay.example=240.240.1.1,pay.example=240.240.1.2'),
);

test('DNS answers each host with its allocated VIP; routes use that host', (t) => {
  const s = state([], [external]);
  t.deepEqual(s.serviceEntryAddresses('api.pay.example'), ['240.240.1.1']);
  t.deepEqual(s.serviceEntryAddresses('pay.example'), ['240.240.1.2']);
  t.is(s.serviceEntryAddresses('other.example'), undefined);
  t.is(s.serviceEntryAt('240.240.1.2', 443)?.host, 'pay.example');
});

test('STATIC: endpoints with their named port, else targetPort; MESH_EXTERNAL is plain TCP', (t) => {
  const route = state([], [external]).serviceEntryAt('240.240.1.1', 443);
  t.truthy(route);
  t.deepEqual(
    route!.candidates.map((c) => `${c.address}:${c.port}`),
    ['192.0.2.10:8443', '192.0.2.11:9443'],
  );
  t.true(route!.candidates.every((c) => c.workload === undefined && !c.resolve));
  t.is(route!.key, 'default/payments/api.pay.example:443');
  t.is(state([], [external]).serviceEntryAt('240.240.1.1', 80), undefined, 'a port the entry does not declare is not routed');
});

test('given addresses (and CIDRs) are answered and routed; CIDRs only routed', (t) => {
  const se = resource(
    'ServiceEntry',
    'db',
    { hosts: ['db.corp'], addresses: ['198.51.100.7', '203.0.113.0/24'], location: 'MESH_EXTERNAL', resolution: 'NONE', ports: [{ number: 5432, name: 'pg' }] },
    allocated('db.corp=240.240.9.9'),
  );
  const s = state([], [se]);
  t.deepEqual(s.serviceEntryAddresses('db.corp'), ['198.51.100.7'], 'given addresses win over a stale allocation');
  t.is(s.serviceEntryAt('203.0.113.40', 5432)?.host, 'db.corp');
  t.deepEqual(s.serviceEntryAt('203.0.113.40', 5432)?.candidates, [], 'NONE goes to the original destination');
  t.deepEqual(s.serviceEntryCidrs(), ['198.51.100.7/32', '203.0.113.0/24']);
});

test('DNS resolution without endpoints resolves the host itself, at the target port', (t) => {
  const se = resource(
    'ServiceEntry',
    'httpbin',
    { hosts: ['httpbin.example'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', targetPort: 8080 }] },
    allocated('httpbin.example=240.240.2.2'),
  );
  const route = state([], [se]).serviceEntryAt('240.240.2.2', 80);
  t.deepEqual(route?.candidates, [{ address: 'httpbin.example', port: 8080, resolve: true, labels: {} }]);
});

test('workloadSelector picks WorkloadEntries and enrolled workloads of the namespace; on a node they are mesh workloads', (t) => {
  const se = resource(
    'ServiceEntry',
    'details',
    {
      hosts: ['details.bookinfo.com'],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: 80, name: 'http', targetPort: 9080 }],
      workloadSelector: { labels: { app: 'details' } },
    },
    allocated('details.bookinfo.com=240.240.3.3'),
  );
  const onB = resource('WorkloadEntry', 'details-b', {
    address: '10.0.0.2',
    serviceAccount: 'details-legacy',
    labels: { app: 'details' },
    ports: { http: 9090 },
  });
  const offMesh = resource('WorkloadEntry', 'details-vm', { address: '192.0.2.50', serviceAccount: 'details-vm', labels: { app: 'details' } });
  const otherNs = resource('WorkloadEntry', 'details-other', { address: '192.0.2.51', labels: { app: 'details' } }, { namespace: 'other' });
  const enrolled = endpoint({ service: 'details', node: 'a', address: '10.0.0.1', port: 9080, labels: { app: 'details' }, serviceAccount: 'details' });
  const s = state([enrolled], [se, onB, offMesh, otherNs]);
  const route = s.serviceEntryAt('240.240.3.3', 80)!;
  const view = route.candidates.map((c) => ({ at: `${c.address}:${c.port}`, node: c.workload?.node, sa: c.workload?.serviceAccount }));
  t.deepEqual(view, [
    { at: '10.0.0.2:9090', node: 'b', sa: 'details-legacy' },
    { at: '192.0.2.50:9080', node: undefined, sa: undefined },
    { at: '10.0.0.1:9080', node: 'a', sa: 'details' },
  ]);
  t.is(route.candidates[2]!.workload, enrolled, 'an enrolled workload keeps its own record and identity');
  // The WorkloadEntry on b is reachable by its address too, and b's inbound admits it.
  t.is(s.endpointAt('10.0.0.2', 9090)?.serviceAccount, 'details-legacy');
  t.is(s.localEndpoint('10.0.0.2', 9090), undefined);
  const b = state([enrolled], [se, onB], { nodeName: 'b' });
  t.is(b.localEndpoint('10.0.0.2', 9090)?.service, 'details');
  t.deepEqual(b.localIdentities(), [], 'no certificates are requested for WorkloadEntries');
});

test('classify: a DNS-resolved address on a node is a mesh workload only for MESH_INTERNAL', (t) => {
  const internal = resource('ServiceEntry', 'svc', { hosts: ['svc.internal'], location: 'MESH_INTERNAL', resolution: 'DNS', ports: [{ number: 80 }] });
  const s = state([], [internal]);
  const [view] = s.serviceEntries();
  t.is(s.classify(view!, { address: '10.0.0.2', port: 80, resolve: false, labels: {} }).workload?.node, 'b');
  t.is(s.classify(view!, { address: '192.0.2.1', port: 80, resolve: false, labels: {} }).workload, undefined);
  const ext = state([], [resource('ServiceEntry', 'svc', { hosts: ['svc.internal'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80 }] })]);
  t.is(ext.classify(ext.serviceEntries()[0]!, { address: '10.0.0.2', port: 80, resolve: false, labels: {} }).workload, undefined);
});

test('wildcard hosts get no DNS answer', (t) => {
  const se = resource('ServiceEntry', 'wild', { hosts: ['*.wild.example'], addresses: ['198.51.100.9'], resolution: 'NONE', ports: [{ number: 443 }] });
  const s = state([], [se]);
  t.is(s.serviceEntryAddresses('*.wild.example'), undefined);
  t.is(s.serviceEntryAt('198.51.100.9', 443)?.host, '*.wild.example');
});

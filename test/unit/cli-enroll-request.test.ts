/** Re-enrolling an endpoint: what the flags give replaces, what they do not keeps (cli/enroll-request.ts). */
import test from 'ava';
import { enrollmentOf, parseEnrollRequest } from '../../cli/enroll-request.js';
import type { EndpointRecord } from '../../core/store/types.js';

const existing: EndpointRecord = {
  service: 'mail',
  namespace: 'default',
  node: 'b',
  address: '10.0.0.2',
  port: 25,
  serviceAccount: 'postfix',
  labels: { version: 'v1' },
  user: 'postfix',
  uid: 101,
};
const flags = (more: Partial<Parameters<typeof parseEnrollRequest>[2]> = {}) => ({ port: '25', namespace: 'default', label: [], ...more });

test('a new endpoint gets the defaults: the node address, the service name as account, no labels, no user', (t) => {
  const { endpoint, kept } = enrollmentOf(parseEnrollRequest('mail', 'b', flags()), [], '10.0.0.9');
  t.deepEqual(endpoint, { service: 'mail', namespace: 'default', node: 'b', address: '10.0.0.9', port: 25, serviceAccount: 'mail', labels: {} });
  t.deepEqual(kept, []);
});

test('the same endpoint again keeps every field no flag gives, and says which', (t) => {
  const { endpoint, kept } = enrollmentOf(parseEnrollRequest('mail', 'b', flags({ label: ['version=v2'] })), [existing], '10.0.0.9');
  t.deepEqual(endpoint, { ...existing, labels: { version: 'v2' } });
  t.deepEqual(kept, ['--address', '--service-account', '--user']);
});

test('another port, node or address is another endpoint: nothing is kept', (t) => {
  for (const [node, more] of [
    ['b', { port: '587' }],
    ['c', {}],
    ['b', { address: '10.0.0.3' }],
  ] as const) {
    const { kept, endpoint } = enrollmentOf(parseEnrollRequest('mail', node, flags(more)), [existing], '10.0.0.9');
    t.deepEqual(kept, [], JSON.stringify(more));
    t.is(endpoint.uid, undefined);
  }
});

test('two endpoints on one node and port (two addresses): --address must say which', (t) => {
  const twin = { ...existing, address: '10.0.0.3' };
  const err = t.throws(() => enrollmentOf(parseEnrollRequest('mail', 'b', flags()), [existing, twin], undefined));
  t.regex(err.message, /default\/mail has 2 endpoints on node b port 25 \(10\.0\.0\.2, 10\.0\.0\.3\): pass --address/);
  t.is(enrollmentOf(parseEnrollRequest('mail', 'b', flags({ address: '10.0.0.3' })), [existing, twin], undefined).endpoint.uid, 101);
});

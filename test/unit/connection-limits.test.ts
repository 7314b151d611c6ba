/** ConnectionLimit: the per-source counting, which limit binds a service, and what the resource accepts. */
import test from 'ava';
import { normalize, parseDocuments } from '../../core/config/index.js';
import { ConnectionLimits } from '../../core/mesh/connection-limits.js';
import { ConnectionLimiter } from '../../daemon/connection-limiter.js';
import { doc, problems } from './support/config-docs.js';

const A = 'spiffe://cluster.local/ns/default/sa/a';
const B = 'spiffe://cluster.local/ns/default/sa/b';

test('a source gets `limit` slots per workload; the next is refused; closing one frees one', (t) => {
  const limiter = new ConnectionLimiter();
  const leases = [1, 2, 3].map(() => limiter.acquire('10.0.0.2:9080', A, 3));
  t.true(leases.every((l) => l !== undefined));
  t.is(limiter.acquire('10.0.0.2:9080', A, 3), undefined, 'the 4th concurrent one');
  t.is(limiter.held('10.0.0.2:9080', A), 3);
  leases[1]!();
  t.is(limiter.held('10.0.0.2:9080', A), 2);
  const again = limiter.acquire('10.0.0.2:9080', A, 3);
  t.truthy(again, 'a closed connection frees its slot');
  t.is(limiter.acquire('10.0.0.2:9080', A, 3), undefined);
});

test('sources and workloads are counted apart', (t) => {
  const limiter = new ConnectionLimiter();
  t.truthy(limiter.acquire('10.0.0.2:9080', A, 1));
  t.is(limiter.acquire('10.0.0.2:9080', A, 1), undefined);
  t.truthy(limiter.acquire('10.0.0.2:9080', B, 1), 'another source has its own slots');
  t.truthy(limiter.acquire('10.0.0.3:9080', A, 1), 'another workload of the service too');
  t.truthy(limiter.acquire('10.0.0.2:9080', 'address 10.0.0.9', 1), 'a plaintext address is a source of its own');
});

test('a release is counted once however often it is called, and an idle pair is forgotten', (t) => {
  const limiter = new ConnectionLimiter();
  const first = limiter.acquire('w', A, 2)!;
  const second = limiter.acquire('w', A, 2)!;
  first();
  first();
  t.is(limiter.held('w', A), 1, 'a double release does not free the other connection’s slot');
  t.is(limiter.acquire('w', A, 2) !== undefined, true);
  t.is(limiter.acquire('w', A, 2), undefined);
  second();
  t.is(limiter.pairs, 1);
  const sources = Array.from({ length: 1000 }, (_, i) => limiter.acquire('w', `address 10.1.${i >> 8}.${i & 255}`, 1)!);
  t.is(limiter.pairs, 1001);
  for (const release of sources) release();
  t.is(limiter.pairs, 1, 'sources that came and went leave nothing behind');
});

test('a lowered limit cuts nothing open: new connections wait until the count is under it', (t) => {
  const limiter = new ConnectionLimiter();
  const open = [1, 2, 3, 4].map(() => limiter.acquire('w', A, 4)!);
  t.is(limiter.acquire('w', A, 2), undefined);
  open[0]!();
  open[1]!();
  t.is(limiter.acquire('w', A, 2), undefined, 'two still open: at the new limit');
  open[2]!();
  t.truthy(limiter.acquire('w', A, 2));
});

const limit = (name: string, max: number, services: string[], namespace = 'default') =>
  normalize(
    parseDocuments(
      `apiVersion: ambit.dev/v1alpha1
kind: ConnectionLimit
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  targetRefs: [${services.map((s) => `{kind: Service, group: "", name: ${s}}`).join(', ')}]
  maxConnectionsPerSource: ${max}
`,
      'limits.yaml',
    )[0]!,
    { domain: 'cluster.local' },
  );

test('the limit that binds a service is found by namespace and name; the smallest of several wins, whatever the order', (t) => {
  const a = limit('loose', 10, ['reviews', 'ratings']);
  const b = limit('strict', 3, ['reviews']);
  const other = limit('elsewhere', 1, ['reviews'], 'shop');
  for (const order of [
    [a, b, other],
    [other, b, a],
  ]) {
    const limits = new ConnectionLimits(order as never);
    t.deepEqual(limits.of({ namespace: 'default', name: 'reviews' }), { maxPerSource: 3, resource: 'default/strict' });
    t.deepEqual(limits.of({ namespace: 'default', name: 'ratings' }), { maxPerSource: 10, resource: 'default/loose' });
    t.deepEqual(limits.of({ namespace: 'shop', name: 'reviews' }), { maxPerSource: 1, resource: 'shop/elsewhere' });
    t.is(limits.of({ namespace: 'default', name: 'details' }), undefined);
  }
});

const CL = ['targetRefs: [{kind: Service, group: "", name: reviews}]', 'maxConnectionsPerSource: 5'];

/** Every problem parsing a ConnectionLimit with `spec` reports, one a line. */
const refused = (spec: string[]): string =>
  problems(doc('ConnectionLimit', 'c', spec))
    .map((p) => p.message)
    .join('\n');

test('ConnectionLimit applies as ambit.dev/v1alpha1 and refuses what would not bind, at its line', (t) => {
  t.notThrows(() => parseDocuments(doc('ConnectionLimit', 'c', CL), 'test.yaml'));
  t.regex(refused([CL[0]!, 'maxConnectionsPerSource: 0']), /test\.yaml:7: .*maxConnectionsPerSource: must be/);
  t.regex(refused([CL[1]!]), /targetRefs is required: name the Service/);
  t.regex(refused([CL[0]!]), /maxConnectionsPerSource/);
  t.regex(refused(['selector: {matchLabels: {app: reviews}}', CL[1]!]), /selector: connection limits bind to a service: use targetRefs/);
  t.regex(
    refused(['targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]', CL[1]!]),
    /targetRefs\[0\]\.kind: a connection limit binds to a Service \(group ""\), not gateway\.networking\.k8s\.io\/Gateway/,
  );
  t.regex(
    refused(['targetRefs: [{kind: Service, name: reviews, namespace: shop}]', CL[1]!]),
    /targetRefs\[0\]\.namespace: a connection limit binds to a Service in its own namespace/,
  );
  t.regex(refused([...CL, 'maxConnections: 9']), /field maxConnections is not supported/);
});

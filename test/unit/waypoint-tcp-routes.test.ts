import test from 'ava';
import { compileRoutes } from '../../core/routing/index.js';
import { dr, fqdn, sequence, vs } from './waypoint-helpers.js';

const reviews = fqdn('reviews');
const to = (host: string, extra: Record<string, unknown> = {}) => ({ destination: { host, ...extra } });

test('no VirtualService: a TCP connection goes to the service itself on the port dialed', (t) => {
  const table = compileRoutes([], []);
  t.false(table.tcpOnly(reviews, 3306));
  t.deepEqual(table.routeTcp({ service: reviews, port: 3306 }), {
    kind: 'tcp',
    virtualService: undefined,
    destination: { host: reviews, subset: undefined, port: 3306 },
    policy: table.policyFor(reviews, undefined, 3306),
  });
});

test('the first tcp route whose L4 match fits picks the destination; none fits: the service itself', (t) => {
  const table = compileRoutes(
    [
      vs('db', {
        hosts: ['reviews'],
        tcp: [
          { match: [{ port: 3306, sourceNamespace: 'batch' }], route: [to('ratings', { port: { number: 3307 } })] },
          { match: [{ destinationSubnets: ['240.240.0.0/16'] }], route: [to('reviews', { subset: 'v2' })] },
        ],
      }),
    ],
    [dr('r', { host: 'reviews', subsets: [{ name: 'v2', labels: { version: 'v2' } }] })],
  );
  t.like(table.routeTcp({ service: reviews, port: 3306, sourceNamespace: 'batch' }), {
    virtualService: 'default/db',
    destination: { host: fqdn('ratings'), port: 3307 },
  });
  const bySubnet = table.routeTcp({ service: reviews, port: 3306, sourceNamespace: 'web', destinationIp: '240.240.0.10' });
  t.like(bySubnet, { destination: { host: reviews, subset: 'v2', port: 3306 } });
  t.is(bySubnet.policy?.cluster, `outbound|3306|v2|${reviews}`);
  t.like(table.routeTcp({ service: reviews, port: 3306, destinationIp: '10.0.0.1' }), {
    virtualService: undefined,
    destination: { host: reviews, subset: undefined },
  });
});

test('weighted tcp destinations split by the running totals', (t) => {
  const table = compileRoutes(
    [
      vs('split', {
        hosts: ['reviews'],
        tcp: [
          {
            route: [
              { ...to('reviews', { subset: 'v1' }), weight: 80 },
              { ...to('reviews', { subset: 'v2' }), weight: 20 },
            ],
          },
        ],
      }),
    ],
    [],
  );
  const pick = (x: number) => table.routeTcp({ service: reviews, port: 9000 }, sequence(x)).destination.subset;
  t.is(pick(0.1), 'v1');
  t.is(pick(0.79), 'v1');
  t.is(pick(0.81), 'v2');
  t.is(table.routeTcp({ service: reviews, port: 9000 }, sequence(0.9)).policy, undefined, 'subset v2 is not defined: no cluster');
});

test('tcpOnly: tcp routes for the port and no HTTP route that could apply there', (t) => {
  const tcp = { hosts: ['reviews'], tcp: [{ match: [{ port: 3306 }], route: [to('reviews')] }] };
  t.true(compileRoutes([vs('a', tcp)], []).tcpOnly(reviews, 3306));
  t.false(compileRoutes([vs('a', tcp)], []).tcpOnly(reviews, 9080), 'no tcp route for 9080');
  const both = { ...tcp, http: [{ route: [to('reviews')] }] };
  t.false(compileRoutes([vs('b', both)], []).tcpOnly(reviews, 3306), 'an HTTP route for any port applies: sniff');
  const httpElsewhere = { ...tcp, http: [{ match: [{ port: 9080 }], route: [to('reviews')] }] };
  t.true(compileRoutes([vs('c', httpElsewhere)], []).tcpOnly(reviews, 3306));
});

test('tcp weights that do not add up to 100 are rejected', (t) => {
  const err = t.throws(() =>
    compileRoutes(
      [
        vs('w', {
          hosts: ['reviews'],
          tcp: [
            {
              route: [
                { ...to('a'), weight: 30 },
                { ...to('b'), weight: 30 },
              ],
            },
          ],
        }),
      ],
      [],
    ),
  );
  t.regex(err?.message ?? '', /tcp\[0\].*weights.*60/);
});

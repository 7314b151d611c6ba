import test from 'ava';
import { compileRoutes, injectFault, RoutingError, type ForwardDecision, type RouteDecision } from '../../core/routing/index.js';
import { dr, fqdn, req, sequence, vs } from './waypoint-helpers.js';

const forward = (d: RouteDecision): ForwardDecision => {
  if (d.kind !== 'route') throw new Error(`expected a route decision, got ${d.kind}`);
  return d;
};
const to = (host: string, extra: Record<string, unknown> = {}) => ({ route: [{ destination: { host } }], ...extra });

test('a host without a VirtualService gets the default route: the service, request port, default retries, no timeout', (t) => {
  const d = forward(compileRoutes([], []).route(req({ host: 'ratings:9080', port: 9080 })));
  t.like(d, { virtualService: undefined, destination: { host: fqdn('ratings'), subset: undefined, port: 9080 }, timeoutMs: 0, rewrite: undefined });
  t.is(d.retries?.attempts, 2);
  t.is(d.policy?.cluster, `outbound|9080||${fqdn('ratings')}`);
});

test('a VirtualService whose routes all miss answers notFound (Envoy 404 NR)', (t) => {
  const table = compileRoutes([vs('r', { hosts: ['reviews'], http: [{ match: [{ uri: { exact: '/only' } }], ...to('reviews') }] })], []);
  t.deepEqual(table.route(req({ path: '/other' })), { kind: 'notFound', virtualService: 'default/r' });
});

test('routes restricted to another port leave the VirtualService inapplicable: default route, as Istio drops them', (t) => {
  const table = compileRoutes([vs('r', { hosts: ['reviews'], http: [{ match: [{ port: 8080 }], ...to('ratings') }] })], []);
  t.is(forward(table.route(req({ port: 9080 }))).destination.host, fqdn('reviews'));
  t.is(forward(table.route(req({ port: 8080 }))).destination.host, fqdn('ratings'));
});

test('hosts: FQDN, short name in the caller namespace, ns-qualified, wildcard and *', (t) => {
  const table = compileRoutes(
    [
      vs('a', { hosts: ['reviews'], ...{ http: [to('reviews', { name: 'a' })] } }),
      vs('b', { hosts: ['*.example.com'], http: [to('reviews', { name: 'b' })] }),
      vs('c', { hosts: ['api.example.com'], http: [to('reviews', { name: 'c' })] }),
      vs('d', { hosts: ['*'], http: [to('reviews', { name: 'd' })] }, 'other'),
    ],
    [],
  );
  const name = (r: Parameters<typeof table.route>[0]) => forward(table.route(r)).routeName;
  t.is(name(req({ host: 'reviews' })), 'a');
  t.is(name(req({ host: 'REVIEWS:9080' })), 'a');
  t.is(name(req({ host: 'reviews.default' })), 'a');
  t.is(name(req({ host: 'reviews.default.svc' })), 'a');
  t.is(name(req({ host: `${fqdn('reviews')}:9080` })), 'a');
  t.is(name(req({ host: 'www.example.com' })), 'b');
  t.is(name(req({ host: 'api.example.com:80' })), 'c');
  t.is(name(req({ host: 'reviews', sourceNamespace: 'other' })), 'd');
  t.is(name(req({ host: 'whatever', service: fqdn('reviews') })), 'a');
});

test('two VirtualServices for one host: the older applies and the conflict is recorded', (t) => {
  const older = vs('first', { hosts: ['reviews'], http: [to('reviews', { name: 'first' })] });
  const newer = vs('second', { hosts: ['reviews'], http: [to('reviews', { name: 'second' })] });
  const table = compileRoutes([newer, older], []);
  t.is(forward(table.route(req())).routeName, 'first');
  t.deepEqual(table.conflicts, [{ host: fqdn('reviews'), kept: 'default/first', ignored: ['default/second'] }]);
});

test('prefix rewrite swaps the matched prefix and keeps the rest and the query', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          { match: [{ uri: { prefix: '/api/v1' } }], rewrite: { uri: '/v2' }, ...to('reviews') },
          { match: [{ uri: { prefix: '/Old' }, ignoreUriCase: true }], rewrite: { uri: '/new' }, ...to('reviews') },
          { match: [{ uri: { exact: '/login' } }], rewrite: { uri: '/auth/login' }, ...to('reviews') },
          { match: [{ uri: { regex: '/u/[0-9]+' } }], rewrite: { uri: '/user' }, ...to('reviews') },
          { match: [{ headers: { x: {} } }], rewrite: { uri: '/v2', authority: 'backend' }, ...to('reviews') },
        ],
      }),
    ],
    [],
  );
  const rw = (path: string, headers = {}) => forward(table.route(req({ path, headers }))).rewrite;
  t.deepEqual(rw('/api/v1/items?q=1'), { path: '/v2/items?q=1', authority: 'reviews:9080' });
  t.is(rw('/OLD/x')?.path, '/new/x');
  t.is(rw('/login?next=/')?.path, '/auth/login?next=/');
  t.is(rw('/u/42?x')?.path, '/user?x');
  // No uri match is Istio's `prefix: /`: only the leading slash is replaced.
  t.deepEqual(rw('/a/b', { x: '1' }), { path: '/v2a/b', authority: 'backend' });
});

test('redirect and direct response', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' } },
          { match: [{ uri: { exact: '/moved' } }], redirect: { authority: 'other.example.com', scheme: 'https', redirectCode: 308 } },
          { match: [{ uri: { exact: '/port' } }], redirect: { port: 8443, uri: '/p?fresh=1' } },
          { match: [{ uri: { exact: '/teapot' } }], directResponse: { status: 418, body: { string: 'short and stout' } } },
        ],
      }),
    ],
    [],
  );
  t.deepEqual(table.route(req({ path: '/old?a=1' })), { kind: 'redirect', status: 301, location: 'http://reviews:9080/new?a=1' });
  t.deepEqual(table.route(req({ path: '/moved' })), { kind: 'redirect', status: 308, location: 'https://other.example.com/moved' });
  t.deepEqual(table.route(req({ path: '/port?a=1' })), { kind: 'redirect', status: 301, location: 'http://reviews:8443/p?fresh=1' });
  t.deepEqual(table.route(req({ path: '/teapot' })), { kind: 'direct', status: 418, body: 'short and stout' });
});

test('weighted picks follow the running totals; 0-weight destinations are never picked', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          {
            route: [
              { destination: { host: 'reviews', subset: 'v1' }, weight: 70 },
              { destination: { host: 'reviews', subset: 'v0' }, weight: 0 },
              { destination: { host: 'reviews', subset: 'v2' }, weight: 30 },
            ],
          },
        ],
      }),
    ],
    [dr('reviews', { host: 'reviews', subsets: ['v0', 'v1', 'v2'].map((name) => ({ name, labels: { version: name } })) })],
  );
  const subset = (x: number) => forward(table.route(req(), sequence(x))).destination.subset;
  t.is(subset(0), 'v1');
  t.is(subset(0.6999), 'v1');
  t.is(subset(0.7), 'v2');
  t.is(subset(0.9999), 'v2');
});

test('header operations: one destination appends its operations after the route (its set wins)', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          {
            headers: {
              request: { set: { 'X-Who': 'route', Host: 'from-headers' }, add: { 'x-trace': 'r' }, remove: ['x-drop', ':path'] },
              response: { set: { 'x-r': '1' } },
            },
            route: [{ destination: { host: 'reviews' }, headers: { request: { set: { 'x-who': 'dest' }, remove: ['x-dest-drop'] } } }],
          },
        ],
      }),
    ],
    [],
  );
  const d = forward(table.route(req()));
  t.deepEqual(d.requestHeaders, [
    { op: 'remove', name: 'x-drop', value: '' },
    { op: 'remove', name: 'x-dest-drop', value: '' },
    { op: 'set', name: 'x-who', value: 'route' },
    { op: 'add', name: 'x-trace', value: 'r' },
    { op: 'set', name: 'x-who', value: 'dest' },
  ]);
  t.deepEqual(d.responseHeaders, [{ op: 'set', name: 'x-r', value: '1' }]);
  // A Host set in headers becomes the authority rewrite.
  t.deepEqual(d.rewrite, { path: '/', authority: 'from-headers' });
});

test('header operations: with several destinations the destination runs first, so the route set wins', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          {
            headers: { request: { set: { 'x-who': 'route' } } },
            route: [
              { destination: { host: 'reviews', subset: 'a' }, weight: 50, headers: { request: { set: { 'x-who': 'a' } } } },
              { destination: { host: 'reviews', subset: 'b' }, weight: 50 },
            ],
          },
        ],
      }),
    ],
    [],
  );
  t.deepEqual(forward(table.route(req(), sequence(0.1))).requestHeaders, [
    { op: 'set', name: 'x-who', value: 'a' },
    { op: 'set', name: 'x-who', value: 'route' },
  ]);
});

test('timeout, retries, fault and mirrors are carried as typed values', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          {
            timeout: '1.5s',
            retries: { attempts: 3, perTryTimeout: '500ms', retryOn: '5xx,409' },
            fault: { delay: { fixedDelay: '2s', percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 1.5 } } },
            mirror: { host: 'reviews', subset: 'shadow' },
            mirrors: [
              { destination: { host: 'audit', port: { number: 7000 } }, percentage: { value: 5 } },
              { destination: { host: 'never' }, percentage: { value: 0 } },
            ],
            route: [{ destination: { host: 'reviews' } }],
          },
        ],
      }),
    ],
    [],
  );
  const d = forward(table.route(req()));
  t.is(d.timeoutMs, 1500);
  t.like(d.retries, { attempts: 3, perTryTimeoutMs: 500 });
  t.deepEqual([...d.retries!.retryOn], ['5xx', 'retriable-status-codes']);
  t.deepEqual([...d.retries!.retriableStatusCodes], [409]);
  t.deepEqual(d.fault, { delayMs: 2000, delayPercent: 10, abortStatus: 503, abortPercent: 1.5 });
  t.deepEqual(d.mirrors, [
    { host: fqdn('reviews'), subset: 'shadow', port: 9080, percent: 100 },
    { host: 'audit.default.svc.cluster.local', subset: undefined, port: 7000, percent: 5 },
  ]);
  t.deepEqual(injectFault(d.fault, sequence(0.05, 0.01)), { delayMs: 2000, abortStatus: 503 });
  t.deepEqual(injectFault(d.fault, sequence(0.5, 0.5)), { delayMs: 0, abortStatus: undefined });
});

test('a subset no DestinationRule defines leaves the policy undefined (Envoy: no cluster, 503)', (t) => {
  const table = compileRoutes([vs('r', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v9' } }] }] })], []);
  t.is(forward(table.route(req())).policy, undefined);
});

test('compileRoutes rejects resources of the wrong kind with a typed error', (t) => {
  const err = t.throws(() => compileRoutes([dr('x', { host: 'x' })], []), { instanceOf: RoutingError });
  t.is(err?.code, 'EROUTE_KIND');
});

import test from 'ava';
import { compileRoutes, RoutingError, type RouteRequest } from '../../core/routing/index.js';
import { compileMatch } from '../../core/routing/match.js';
import { fqdn, req, vs } from './waypoint-helpers.js';

/** Whether a request matches a VirtualService with one route guarded by `match`. */
function hits(match: Record<string, unknown>[], r: Partial<RouteRequest>): boolean {
  const table = compileRoutes([vs('reviews', { hosts: ['reviews'], http: [{ match, route: [{ destination: { host: 'reviews' } }] }] })], []);
  const d = table.route(req(r));
  return d.kind === 'route';
}

test('uri exact compares the path without its query', (t) => {
  t.true(hits([{ uri: { exact: '/a' } }], { path: '/a?x=1' }));
  t.false(hits([{ uri: { exact: '/a' } }], { path: '/a/b' }));
  t.false(hits([{ uri: { exact: '/a' } }], { path: '/A' }));
});

test('uri prefix compares the start of the path', (t) => {
  t.true(hits([{ uri: { prefix: '/api' } }], { path: '/api/v1' }));
  t.true(hits([{ uri: { prefix: '/api' } }], { path: '/apiary' }));
  t.false(hits([{ uri: { prefix: '/api' } }], { path: '/v1/api' }));
});

test('uri regex is a full match (anchored) on the path without query', (t) => {
  t.true(hits([{ uri: { regex: '/users/[0-9]+' } }], { path: '/users/42?x=1' }));
  t.false(hits([{ uri: { regex: '/users/[0-9]+' } }], { path: '/users/42/posts' }));
  t.false(hits([{ uri: { regex: '[0-9]+' } }], { path: '/users/42' }));
});

test('a uri regex with nested quantifiers does not stall the waypoint (RE2, linear time)', (t) => {
  // A backtracking engine took 8 s on a 33-byte path here (issue 19); this would not finish.
  t.false(hits([{ uri: { regex: '/(a+)+x' } }], { path: `/${'a'.repeat(5000)}` }));
  t.false(hits([{ headers: { 'x-id': { regex: '(a|aa)+b' } } }], { headers: { 'x-id': 'a'.repeat(5000) } }));
  t.true(hits([{ uri: { regex: '/(a+)+x' } }], { path: '/aaax?q=1' }));
});

test('ordinary RE2 uri regexes: anchors, suffixes and (?i)', (t) => {
  t.true(hits([{ uri: { regex: '^/api/v[0-9]+/.*' } }], { path: '/api/v2/users?x=1' }));
  t.false(hits([{ uri: { regex: '^/api/v[0-9]+/.*' } }], { path: '/api/v/users' }));
  t.true(hits([{ uri: { regex: '.*\\.png' } }], { path: '/img/a.png?size=2' }));
  t.false(hits([{ uri: { regex: '.*\\.png' } }], { path: '/img/a.png/raw' }));
  t.true(hits([{ uri: { regex: '(?i)/api/.*' } }], { path: '/API/x' }));
});

test('a regex that reached the waypoint unvalidated is EROUTE_REGEX naming the route field', (t) => {
  // normalize refuses it first (vs() would throw); compileMatch is the waypoint's own guard.
  const err = t.throws(() => compileMatch({ uri: { regex: '/(?!admin).*' } }, 'VirtualService default/reviews http[0].match[0]'), { instanceOf: RoutingError });
  t.is(err?.code, 'EROUTE_REGEX');
  t.regex(err?.message ?? '', /http\[0\]\.match\[0\]\.uri: invalid regex "\/\(\?!admin\)\.\*"/);
  t.regex((err?.cause as Error).message, /does not support lookahead/);
});

test('ignoreUriCase applies to exact and prefix, not to regex (as Envoy)', (t) => {
  t.true(hits([{ uri: { exact: '/Login' }, ignoreUriCase: true }], { path: '/LOGIN' }));
  t.true(hits([{ uri: { prefix: '/API/' }, ignoreUriCase: true }], { path: '/api/x' }));
  t.false(hits([{ uri: { regex: '/api/.*' }, ignoreUriCase: true }], { path: '/API/x' }));
});

test('headers exact, prefix, regex and presence', (t) => {
  t.true(hits([{ headers: { 'end-user': { exact: 'jason' } } }], { headers: { 'end-user': 'jason' } }));
  t.false(hits([{ headers: { 'end-user': { exact: 'jason' } } }], { headers: { 'end-user': 'Jason' } }));
  t.false(hits([{ headers: { 'end-user': { exact: 'jason' } } }], { headers: {} }));
  t.true(hits([{ headers: { 'user-agent': { prefix: 'curl/' } } }], { headers: { 'user-agent': 'curl/8.0' } }));
  t.true(hits([{ headers: { cookie: { regex: '.*session=[a-z]+.*' } } }], { headers: { cookie: 'a=1; session=abc' } }));
  t.false(hits([{ headers: { cookie: { regex: 'session' } } }], { headers: { cookie: 'a=1; session=abc' } }));
  t.true(hits([{ headers: { 'x-canary': {} } }], { headers: { 'x-canary': '' } }));
  t.false(hits([{ headers: { 'x-canary': {} } }], { headers: {} }));
});

test('a multi-valued header matches as its values joined by ","', (t) => {
  t.true(hits([{ headers: { 'x-tag': { exact: 'a,b' } } }], { headers: { 'x-tag': ['a', 'b'] } }));
});

test('withoutHeaders: a present non-matching value matches; an absent header matches only the presence form', (t) => {
  const without = [{ withoutHeaders: { 'end-user': { exact: 'jason' } } }];
  t.true(hits(without, { headers: { 'end-user': 'mark' } }));
  t.false(hits(without, { headers: { 'end-user': 'jason' } }));
  // Envoy invert_match without treat_missing_header_as_empty (istio/istio#50988).
  t.false(hits(without, { headers: {} }));
  t.true(hits([{ withoutHeaders: { 'end-user': {} } }], { headers: {} }));
  t.false(hits([{ withoutHeaders: { 'end-user': {} } }], { headers: { 'end-user': 'x' } }));
});

test('method, scheme and authority', (t) => {
  t.true(hits([{ method: { exact: 'POST' } }], { method: 'POST' }));
  t.false(hits([{ method: { exact: 'POST' } }], { method: 'post' }));
  t.true(hits([{ scheme: { exact: 'http' } }], {}));
  t.false(hits([{ scheme: { exact: 'https' } }], {}));
  t.true(hits([{ authority: { prefix: 'reviews' } }], { host: 'reviews:9080' }));
  t.true(hits([{ authority: { exact: 'reviews:9080' } }], { host: 'reviews:9080' }));
});

test('queryParams exact, prefix, regex and presence read the raw first value', (t) => {
  t.true(hits([{ queryParams: { v: { exact: '2' } } }], { path: '/x?a=1&v=2' }));
  t.false(hits([{ queryParams: { v: { exact: '2' } } }], { path: '/x?v=3&v=2' }));
  t.true(hits([{ queryParams: { v: { prefix: 'be' } } }], { path: '/x?v=beta' }));
  t.true(hits([{ queryParams: { id: { regex: '\\d+' } } }], { path: '/x?id=77' }));
  t.true(hits([{ queryParams: { debug: { exact: '' } } }], { path: '/x?debug' }));
  t.true(hits([{ queryParams: { debug: {} } }], { path: '/x?debug=1' }));
  t.false(hits([{ queryParams: { debug: {} } }], { path: '/x?debugging=1' }));
  t.false(hits([{ queryParams: { q: { exact: 'a b' } } }], { path: '/x?q=a%20b' }));
});

test('port, sourceLabels and sourceNamespace', (t) => {
  t.true(hits([{ port: 9080, uri: { prefix: '/' } }, { port: 1 }], { port: 9080 }));
  t.true(hits([{ sourceLabels: { app: 'productpage' } }], { sourceLabels: { app: 'productpage', version: 'v1' } }));
  t.false(hits([{ sourceLabels: { app: 'productpage', version: 'v2' } }], { sourceLabels: { app: 'productpage', version: 'v1' } }));
  t.false(hits([{ sourceLabels: { app: 'productpage' } }], {}));
  t.true(hits([{ sourceNamespace: 'default' }], { sourceNamespace: 'default' }));
  t.false(hits([{ sourceNamespace: 'prod' }], { sourceNamespace: 'default' }));
});

test('match blocks are ORed, conditions within one ANDed', (t) => {
  const match = [{ uri: { prefix: '/a' }, method: { exact: 'GET' } }, { headers: { x: { exact: '1' } } }];
  t.true(hits(match, { path: '/a', method: 'GET' }));
  t.false(hits(match, { path: '/a', method: 'PUT' }));
  t.true(hits(match, { path: '/b', method: 'PUT', headers: { x: '1' } }));
});

test('the first matching route wins, in order', (t) => {
  const table = compileRoutes(
    [
      vs('r', {
        hosts: ['reviews'],
        http: [
          { match: [{ uri: { prefix: '/v2' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
          { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
          { route: [{ destination: { host: 'reviews', subset: 'v3' } }] },
        ],
      }),
    ],
    [],
  );
  const subset = (path: string) => {
    const d = table.route(req({ path }));
    return d.kind === 'route' ? d.destination.subset : d.kind;
  };
  t.is(subset('/v2/x'), 'v2');
  t.is(subset('/x'), 'v1');
  t.is(fqdn('reviews'), 'reviews.default.svc.cluster.local');
});

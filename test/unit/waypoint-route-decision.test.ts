/**
 * The waypoint's routing decision (waypoint/route.ts) as a table, the way
 * ztunnel tests build_request: plain VirtualService and DestinationRule
 * specs and a request in, the outcome's kind and what it names out. Each
 * row states one property; the whole outcome is compared, so a row also
 * proves nothing else changed.
 */
import test from 'ava';
import type { TypedResource } from '../../core/config/index.js';
import type { Caller } from '../../waypoint/caller.js';
import { route, type RequestAttributes, type Route, type RoutingView } from '../../waypoint/route.js';
import { compileRoutes, type FaultPolicy } from '../../core/routing/index.js';
import { dr, fqdn, sequence, vs } from './waypoint-helpers.js';

const PRODUCTPAGE: Caller = { principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', address: '10.0.0.5' };
const TESTER: Caller = { principal: 'spiffe://cluster.local/ns/qa/sa/tester', address: '10.0.0.6' };
/** The workload labels the mesh knows for each caller (what `sourceLabels` matches). */
const WORKLOADS = new Map<string, Record<string, string>>([[PRODUCTPAGE.principal, { app: 'productpage', version: 'v1' }]]);

const REVIEWS = fqdn('reviews');
const RATINGS = fqdn('ratings');
const SUBSETS = dr('reviews', { host: 'reviews', subsets: ['v1', 'v2', 'v3'].map((name) => ({ name, labels: { version: name } })) });

/** A VirtualService for reviews with these HTTP routes. */
const reviews = (...http: Record<string, unknown>[]) => vs('reviews', { hosts: ['reviews'], http });
/** An HTTP route named `name` to reviews subset `subset`, guarded by `match` when given. */
const to = (name: string, subset: string, match?: Record<string, unknown>[]) => ({
  name,
  ...(match ? { match } : {}),
  route: [{ destination: { host: 'reviews', subset } }],
});
/** Bookinfo's usual tail: everyone else goes to v1. */
const ELSE_V1 = to('else', 'v1');

/** The outcome flattened to what a row asserts. */
type Summary =
  | {
      kind: 'forward';
      virtualService: string | undefined;
      route: string | undefined;
      cluster: string;
      host: string;
      subset: string | undefined;
      port: number;
      rewrite: { path: string; authority: string } | undefined;
      fault: FaultPolicy | undefined;
    }
  | { kind: 'reply'; status: number; flag: string; body: string; location: string | undefined; route: string | undefined };

function summary(r: Route): Summary {
  if (r.kind === 'forward') {
    const d = r.decision;
    return {
      kind: 'forward',
      virtualService: d.virtualService,
      route: d.routeName,
      cluster: r.policy.cluster,
      host: d.destination.host,
      subset: d.destination.subset,
      port: d.destination.port,
      rewrite: d.rewrite,
      fault: d.fault,
    };
  }
  return { kind: 'reply', status: r.reply.status, flag: r.reply.flag, body: r.reply.body, location: r.reply.headers?.location, route: r.decision?.routeName };
}

/** Forwarded by reviews' VirtualService route `name` to reviews `subset`. */
const forwarded = (name: string | undefined, subset: string | undefined, over: Partial<Extract<Summary, { kind: 'forward' }>> = {}): Summary => ({
  kind: 'forward',
  virtualService: 'default/reviews',
  route: name,
  cluster: `outbound|9080|${subset ?? ''}|${REVIEWS}`,
  host: REVIEWS,
  subset,
  port: 9080,
  rewrite: undefined,
  fault: undefined,
  ...over,
});
/** Istio's default route: no VirtualService applies, the dialed service itself. */
const byDefault = (host = REVIEWS, port = 9080): Summary =>
  forwarded(undefined, undefined, { virtualService: undefined, host, port, cluster: `outbound|${port}||${host}` });
const replied = (status: number, flag: string, over: Partial<Extract<Summary, { kind: 'reply' }>> = {}): Summary => ({
  kind: 'reply',
  status,
  flag,
  body: '',
  location: undefined,
  route: undefined,
  ...over,
});

interface Row {
  name: string;
  resources: TypedResource[];
  request?: Partial<Omit<RequestAttributes, 'caller'>> & { caller?: Caller };
  /** The weighted pick's dice; Math.random must never be needed. */
  rng?: () => number;
  want: Summary;
}

const split = reviews({
  name: 'split',
  route: [
    { destination: { host: 'reviews', subset: 'v1' }, weight: 80 },
    { destination: { host: 'reviews', subset: 'v2' }, weight: 20 },
  ],
});

const rows: Row[] = [
  { name: 'no VirtualService: Istio default route to the dialed service on the dialed port', resources: [SUBSETS], want: byDefault() },
  {
    name: 'the VirtualService is chosen by the service dialed, whatever the Host header says',
    resources: [vs('reviews', { hosts: ['reviews'], http: [{ name: 'r', route: [{ destination: { host: 'ratings' } }] }] })],
    request: { host: 'evil.example.com:9080' },
    want: forwarded('r', undefined, { host: RATINGS, cluster: `outbound|9080||${RATINGS}` }),
  },
  {
    name: "a Host naming another service does not pull in that service's VirtualService",
    resources: [vs('ratings', { hosts: ['ratings'], http: [{ name: 'r', route: [{ destination: { host: 'details' } }] }] })],
    request: { host: 'ratings:9080' },
    want: byDefault(),
  },
  {
    name: 'uri exact compares the path without its query',
    resources: [reviews(to('exact', 'v2', [{ uri: { exact: '/reviews/1' } }]), ELSE_V1), SUBSETS],
    request: { path: '/reviews/1?fresh=1' },
    want: forwarded('exact', 'v2'),
  },
  {
    name: 'uri prefix',
    resources: [reviews(to('api', 'v3', [{ uri: { prefix: '/api/' } }]), ELSE_V1), SUBSETS],
    request: { path: '/api/v1/reviews' },
    want: forwarded('api', 'v3'),
  },
  {
    name: 'uri regex is a full match: a longer path falls through to the next route',
    resources: [reviews(to('numeric', 'v2', [{ uri: { regex: '/reviews/[0-9]+' } }]), ELSE_V1), SUBSETS],
    request: { path: '/reviews/12a' },
    want: forwarded('else', 'v1'),
  },
  {
    name: "header exact: Bookinfo's jason goes to v2",
    resources: [reviews(to('jason', 'v2', [{ headers: { 'end-user': { exact: 'jason' } } }]), ELSE_V1), SUBSETS],
    request: { headers: { 'end-user': 'jason' } },
    want: forwarded('jason', 'v2'),
  },
  {
    name: 'header values are case-sensitive: Jason is everyone else',
    resources: [reviews(to('jason', 'v2', [{ headers: { 'end-user': { exact: 'jason' } } }]), ELSE_V1), SUBSETS],
    request: { headers: { 'end-user': 'Jason' } },
    want: forwarded('else', 'v1'),
  },
  {
    name: 'method',
    resources: [reviews(to('writes', 'v3', [{ method: { exact: 'POST' } }]), ELSE_V1), SUBSETS],
    request: { method: 'POST' },
    want: forwarded('writes', 'v3'),
  },
  {
    name: 'query parameter exact, on the raw first value',
    resources: [reviews(to('beta', 'v2', [{ queryParams: { beta: { exact: '1' } } }]), ELSE_V1), SUBSETS],
    request: { path: '/reviews?beta=1&beta=0' },
    want: forwarded('beta', 'v2'),
  },
  {
    name: "sourceLabels match the labels of the verified caller's workload",
    resources: [reviews(to('from-productpage', 'v2', [{ sourceLabels: { app: 'productpage' } }]), ELSE_V1), SUBSETS],
    request: { caller: PRODUCTPAGE },
    want: forwarded('from-productpage', 'v2'),
  },
  {
    name: 'sourceLabels: a caller whose workload lacks them takes the next route',
    resources: [reviews(to('from-productpage', 'v2', [{ sourceLabels: { app: 'productpage' } }]), ELSE_V1), SUBSETS],
    request: { caller: TESTER },
    want: forwarded('else', 'v1'),
  },
  {
    name: "sourceNamespace is the namespace of the caller's SPIFFE ID",
    resources: [reviews(to('from-qa', 'v3', [{ sourceNamespace: 'qa' }]), ELSE_V1), SUBSETS],
    request: { caller: TESTER },
    want: forwarded('from-qa', 'v3'),
  },
  { name: 'weights 80/20: a draw under 0.8 picks v1', resources: [split, SUBSETS], rng: sequence(0.7999), want: forwarded('split', 'v1') },
  { name: 'weights 80/20: a draw of 0.8 or more picks v2', resources: [split, SUBSETS], rng: sequence(0.8), want: forwarded('split', 'v2') },
  {
    name: 'a destination port other than the dialed one names its own cluster',
    resources: [reviews({ name: 'p', route: [{ destination: { host: 'reviews', subset: 'v1', port: { number: 9443 } } }] }), SUBSETS],
    want: forwarded('p', 'v1', { port: 9443, cluster: `outbound|9443|v1|${REVIEWS}` }),
  },
  {
    name: 'routes only for another port leave the VirtualService out: default route',
    resources: [reviews(to('admin', 'v3', [{ port: 9090 }])), SUBSETS],
    want: byDefault(),
  },
  {
    name: "rewrite: the prefix is swapped, the query kept, the authority is the request's",
    resources: [reviews({ ...to('legacy', 'v1', [{ uri: { prefix: '/old/' } }]), rewrite: { uri: '/new/' } }), SUBSETS],
    request: { path: '/old/reviews?page=2' },
    want: forwarded('legacy', 'v1', { rewrite: { path: '/new/reviews?page=2', authority: 'reviews:9080' } }),
  },
  {
    name: 'fault: carried on the decision for the fault filter, not rolled here',
    resources: [reviews({ ...to('flaky', 'v1'), fault: { abort: { httpStatus: 500, percentage: { value: 100 } } } }), SUBSETS],
    want: forwarded('flaky', 'v1', { fault: { delayMs: 0, delayPercent: 0, abortStatus: 500, abortPercent: 100 } }),
  },
  {
    name: 'a subset no DestinationRule defines: 503 NC, the route kept for the access log',
    resources: [reviews(to('canary', 'v9'))],
    want: replied(503, 'NC', { route: 'canary' }),
  },
  {
    name: 'a VirtualService whose routes all miss: 404 NR',
    resources: [reviews(to('only', 'v1', [{ uri: { exact: '/only' } }])), SUBSETS],
    request: { path: '/other' },
    want: replied(404, 'NR'),
  },
  {
    name: 'directResponse: its status and body, no flag',
    resources: [reviews({ match: [{ uri: { exact: '/teapot' } }], directResponse: { status: 418, body: { string: 'short and stout' } } })],
    request: { path: '/teapot' },
    want: replied(418, '-', { body: 'short and stout' }),
  },
  {
    name: 'redirect: 301 by default, the query kept, the Host as received',
    resources: [reviews({ match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' } })],
    request: { path: '/old?a=1' },
    want: replied(301, '-', { location: 'http://reviews:9080/new?a=1' }),
  },
  {
    name: 'redirect with its own code, scheme and authority',
    resources: [reviews({ redirect: { authority: 'reviews.example.com', scheme: 'https', redirectCode: 308 } })],
    request: { path: '/moved' },
    want: replied(308, '-', { location: 'https://reviews.example.com/moved' }),
  },
];

function attributes(over: Row['request'] = {}): RequestAttributes {
  return { host: 'reviews:9080', path: '/', method: 'GET', headers: {}, caller: PRODUCTPAGE, service: REVIEWS, port: 9080, ...over };
}

const noDice = (): number => {
  throw new Error('the decision rolled dice it did not need');
};

for (const row of rows) {
  test(`route decision: ${row.name}`, (t) => {
    const resources = row.resources;
    const view: RoutingView = {
      routes: compileRoutes(
        resources.filter((r) => r.kind === 'VirtualService'),
        resources.filter((r) => r.kind === 'DestinationRule'),
      ),
      sourceLabels: (principal) => WORKLOADS.get(principal),
    };
    t.deepEqual(summary(route(attributes(row.request), view, row.rng ?? noDice)), row.want);
  });
}

test('route decision: a weighted pick depends on its dice alone, never on earlier requests', (t) => {
  const view: RoutingView = { routes: compileRoutes([split], [SUBSETS]), sourceLabels: () => undefined };
  const rng = sequence(0.1, 0.9);
  const picks = Array.from({ length: 4 }, () => summary(route(attributes(), view, rng)));
  t.deepEqual(
    picks.map((p) => (p.kind === 'forward' ? p.subset : p.status)),
    ['v1', 'v2', 'v1', 'v2'],
  );
});

/** core/telemetry/labels.ts: Istio's standard label set, built once from typed facts. */
import test from 'ava';
import { REQUEST_LABELS, TCP_LABELS, principalNamespace, requestLabels, tcpLabels, workloadNames, type TrafficFacts } from '../../core/telemetry/labels.js';
import { callerParty, endpointParty } from '../../core/telemetry/mesh-facts.js';
import { endpoint, state } from './support/daemon-fixtures.js';
import { bookinfoEdge, PRODUCTPAGE_ID, REVIEWS_ID } from '../helpers/istio-edge.js';

const PRODUCTPAGE = PRODUCTPAGE_ID;
const REVIEWS = REVIEWS_ID;

const facts: TrafficFacts = {
  reporter: 'waypoint',
  source: { principal: PRODUCTPAGE, workload: { service: 'productpage', namespace: 'default', labels: { app: 'productpage', version: 'v1' } } },
  destination: { principal: REVIEWS, workload: { service: 'reviews', namespace: 'default', labels: { app: 'reviews', version: 'v2' } } },
  service: { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' },
  securityPolicy: 'mutual_tls',
};

test('the TCP set is every Istio label but the response ones; the HTTP set adds response_code and grpc_response_status', (t) => {
  t.deepEqual(Object.keys(tcpLabels(facts)).sort(), [...TCP_LABELS].sort());
  t.deepEqual(Object.keys(requestLabels(facts, { protocol: 'http', responseCode: 200, responseFlags: '-' })).sort(), [...REQUEST_LABELS].sort());
  t.false((TCP_LABELS as readonly string[]).includes('response_code'));
  t.is(REQUEST_LABELS.length, 25);
});

test('a fully known edge: every label carries its value', (t) => {
  t.deepEqual(requestLabels(facts, { protocol: 'http', responseCode: 503, responseFlags: 'UH' }), {
    ...bookinfoEdge('waypoint'),
    request_protocol: 'http',
    response_flags: 'UH',
    response_code: '503',
    grpc_response_status: '',
  });
});

test('nothing known: "unknown" everywhere Istio says so, the source namespace from its SPIFFE ID', (t) => {
  const l = tcpLabels({ reporter: 'source', source: { principal: PRODUCTPAGE }, destination: {}, securityPolicy: 'none' }, 'UF');
  t.like(l, {
    reporter: 'source',
    source_workload: 'unknown',
    source_workload_namespace: 'default',
    source_principal: PRODUCTPAGE,
    source_version: 'unknown',
    destination_workload: 'unknown',
    destination_workload_namespace: 'unknown',
    destination_principal: 'unknown',
    destination_service: 'unknown',
    destination_service_name: 'unknown',
    request_protocol: 'tcp',
    response_flags: 'UF',
    connection_security_policy: 'none',
  });
});

test('a label set is frozen: the close cannot count a different series than the open', (t) => {
  const l = tcpLabels(facts);
  t.true(Object.isFrozen(l));
  t.throws(() => {
    (l as Record<string, string>).destination_version = 'v3';
  });
});

test('gRPC: request_protocol grpc and the grpc-status, "unknown" when the endpoint sent none', (t) => {
  t.like(requestLabels(facts, { protocol: 'grpc', responseCode: 200, grpcStatus: '14', responseFlags: '-' }), {
    request_protocol: 'grpc',
    grpc_response_status: '14',
  });
  t.like(requestLabels(facts, { protocol: 'grpc', responseCode: 0, responseFlags: 'DC' }), { grpc_response_status: 'unknown', response_code: '0' });
});

const names: [string, Record<string, string>, ReturnType<typeof workloadNames>][] = [
  ['no labels: the service, revision latest', {}, { workload: 'ratings', canonicalService: 'ratings', canonicalRevision: 'latest' }],
  [
    'version names the workload as Kubernetes Bookinfo does',
    { version: 'v3' },
    { workload: 'ratings-v3', canonicalService: 'ratings', canonicalRevision: 'v3' },
  ],
  ['app is the canonical service', { app: 'stars' }, { workload: 'ratings', canonicalService: 'stars', canonicalRevision: 'latest' }],
  [
    "Istio's canonical labels come first",
    { app: 'stars', 'service.istio.io/canonical-name': 'rate', version: 'v1', 'service.istio.io/canonical-revision': 'r9' },
    { workload: 'ratings-r9', canonicalService: 'rate', canonicalRevision: 'r9' },
  ],
  [
    'app.kubernetes.io labels before app and version',
    { app: 'stars', 'app.kubernetes.io/name': 'k8s', version: 'v1', 'app.kubernetes.io/version': '2.0' },
    { workload: 'ratings-2.0', canonicalService: 'k8s', canonicalRevision: '2.0' },
  ],
];
for (const [name, labels, expected] of names) {
  test(`workload names: ${name}`, (t) => {
    t.deepEqual(workloadNames({ service: 'ratings', namespace: 'default', labels }), expected);
  });
}

test('principalNamespace reads only workload SPIFFE IDs', (t) => {
  t.is(principalNamespace(REVIEWS), 'default');
  t.is(principalNamespace('spiffe://cluster.local/ambit/node/a'), undefined);
  t.is(principalNamespace(undefined), undefined);
});

test('mesh facts: the caller is the workload with that identity on the node the tunnel came from; an endpoint is itself', (t) => {
  const pp = endpoint({
    service: 'productpage',
    node: 'b',
    address: '10.0.0.2',
    port: 9080,
    serviceAccount: 'productpage',
    labels: { version: 'v1' },
  });
  const reviews = endpoint({ service: 'reviews', node: 'a', address: '10.0.0.1', port: 9081, serviceAccount: 'bookinfo-reviews', labels: { version: 'v2' } });
  const s = state([pp, reviews]);
  const caller = callerParty(s, PRODUCTPAGE, '10.0.0.2');
  t.deepEqual(caller, { principal: PRODUCTPAGE, workload: { service: 'productpage', namespace: 'default', labels: { version: 'v1' } } });
  t.deepEqual(callerParty(s, PRODUCTPAGE, '10.0.0.1'), { principal: PRODUCTPAGE }, 'not from the node that runs it: only the principal');
  t.deepEqual(endpointParty(s, reviews), { principal: REVIEWS, workload: reviews });
  t.deepEqual(s.serviceOfEndpoint(reviews), { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' });
});

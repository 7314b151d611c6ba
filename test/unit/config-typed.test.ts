import test from 'ava';
import { normalize, parseDocuments, type ConfigKind, type SpecByKind } from '../../core/config/index.js';
import { FILE, doc } from './support/config-docs.js';

function typed<K extends ConfigKind>(kind: K, text: string, namespace?: string): SpecByKind[K] {
  const [r] = parseDocuments(text, FILE, { defaultNamespace: namespace });
  const t = normalize(r!);
  if (t.kind !== kind) throw new Error(`expected ${kind}`);
  return t.spec as SpecByKind[K];
}

test('durations become milliseconds and retryOn a list', (t) => {
  const spec = typed(
    'VirtualService',
    doc('VirtualService', 'r', [
      'hosts: [reviews.other.svc.cluster.local]',
      'http:',
      '- timeout: 0.5s',
      '  retries: {attempts: 3, perTryTimeout: 100ms, retryOn: "5xx, connect-failure,503"}',
      '  fault: {delay: {fixedDelay: 1m, percent: 10}, abort: {httpStatus: 503}}',
      '  route:',
      '  - destination: {host: reviews.other.svc.cluster.local}',
    ]),
  );
  const route = spec.http![0]!;
  t.is(route.timeout, 500);
  t.deepEqual(route.retries, { attempts: 3, perTryTimeout: 100, retryOn: ['5xx', 'connect-failure', '503'] });
  t.deepEqual(route.fault, { delay: { fixedDelay: 60_000, percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 0 } } });
  t.deepEqual(spec.hosts, ['reviews.other.svc.cluster.local']);
  t.is(route.route![0]!.destination.host, 'reviews.other.svc.cluster.local');
});

test('short hosts resolve in the document namespace, and the stored form stays as written', (t) => {
  const text = doc('DestinationRule', 'r', [
    'host: ratings',
    'trafficPolicy:',
    '  connectionPool: {tcp: {connectTimeout: 1h}}',
    '  outlierDetection: {interval: 10s, baseEjectionTime: 30s}',
  ]);
  const [stored] = parseDocuments(text, FILE, { defaultNamespace: 'shop' });
  t.is(stored!.metadata.namespace, 'shop');
  t.is(stored!.spec.host, 'ratings');
  const spec = typed('DestinationRule', text, 'shop');
  t.is(spec.host, 'ratings.shop.svc.cluster.local');
  t.deepEqual(spec.trafficPolicy?.connectionPool?.tcp, { connectTimeout: 3_600_000 });
  t.deepEqual(spec.trafficPolicy?.outlierDetection, { interval: 10_000, baseEjectionTime: 30_000 });
});

test('ServiceEntry hosts stay as written and protocols are upper-cased', (t) => {
  const spec = typed(
    'ServiceEntry',
    doc('ServiceEntry', 'ext', [
      'hosts: [httpbin.org]',
      'ports: [{number: 80, name: http, protocol: http}]',
      'location: MESH_EXTERNAL',
      'resolution: DNS',
      'endpoints: [{address: 10.0.0.5, ports: {http: 8080}, labels: {app: httpbin}}]',
    ]),
  );
  t.deepEqual(spec.hosts, ['httpbin.org']);
  t.is(spec.ports![0]!.protocol, 'HTTP');
  t.deepEqual(spec.endpoints![0]!.ports, { http: 8080 });
});

test('redirect, directResponse, header presence and mirrors are accepted', (t) => {
  const spec = typed(
    'VirtualService',
    doc('VirtualService', 'r', [
      'hosts: [web]',
      'http:',
      '- match: [{headers: {x-debug: {}}, queryParams: {v: {regex: "(?i)BETA"}}, ignoreUriCase: true}]',
      '  directResponse: {status: 418, body: {string: teapot}}',
      '- match: [{uri: {prefix: /old}}]',
      '  redirect: {uri: /new, redirectCode: 308}',
      '- route: [{destination: {host: web, port: {number: 8080}}, headers: {request: {set: {x-a: b}, remove: [x-c]}}}]',
      '  mirror: {host: shadow}',
      '  mirrorPercentage: {value: 12.5}',
    ]),
  );
  t.deepEqual(spec.http![0]!.match![0]!.headers, { 'x-debug': {} });
  t.is(spec.http![1]!.redirect!.redirectCode, 308);
  t.is(spec.http![2]!.mirror!.host, 'shadow.default.svc.cluster.local');
});

test('RequestAuthentication and PeerAuthentication typed forms', (t) => {
  const ra = typed(
    'RequestAuthentication',
    doc('RequestAuthentication', 'jwt', [
      'selector: {matchLabels: {app: web}}',
      'jwtRules:',
      '- issuer: https://issuer.test',
      '  jwksUri: https://issuer.test/jwks',
      '  fromHeaders: [{name: Authorization, prefix: "Bearer "}]',
      '  outputClaimToHeaders: [{header: x-sub, claim: sub}]',
      '  forwardOriginalToken: true',
    ]),
  );
  t.is(ra.jwtRules![0]!.fromHeaders![0]!.prefix, 'Bearer ');
  const pa = typed('PeerAuthentication', doc('PeerAuthentication', 'strict', ['mtls: {mode: STRICT}', 'portLevelMtls: {"8080": {mode: PERMISSIVE}}']));
  t.deepEqual(pa, { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' } } });
});

test('store-set metadata is accepted so get -o yaml output re-applies', (t) => {
  const text = doc('WorkloadEntry', 'vm1', ['address: 10.1.2.3', 'serviceAccount: ratings', 'labels: {app: ratings}']).replace(
    '  name: vm1',
    '  name: vm1\n  resourceVersion: "42"\n  generation: 3\n  creationTimestamp: "2026-01-01T00:00:00Z"\n  uid: 1f2e',
  );
  const [r] = parseDocuments(text, FILE);
  t.deepEqual(r!.metadata, { name: 'vm1', namespace: 'default', resourceVersion: '42', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z', uid: '1f2e' });
});

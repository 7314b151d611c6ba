/** Which telemetry a workload gets from Telemetry resources and the MeshConfig: Istio's hierarchy, field by field. */
import test from 'ava';
import { normalize, parseDocuments, type TypedResource } from '../../core/config/index.js';
import { resolveTelemetry, type TelemetryInputs, type TelemetryWorkload } from '../../core/telemetry/resolve.js';
import { applyLabelOperations, compileMetric, unknownTags } from '../../core/telemetry/metric-overrides.js';
import { DEFAULT_TELEMETRY } from '../../core/telemetry/settings.js';

let clock = 0;
/** One resource from YAML lines, created after the previous one (age breaks ties). */
function resource<K extends 'Telemetry' | 'MeshConfig'>(kind: K, namespace: string, name: string, spec: string[]): TypedResource<K> {
  const apiVersion = kind === 'Telemetry' ? 'telemetry.istio.io/v1' : 'ambit.dev/v1alpha1';
  const text = [
    `apiVersion: ${apiVersion}`,
    `kind: ${kind}`,
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'spec:',
    ...spec.map((l) => `  ${l}`),
  ].join('\n');
  const [r] = parseDocuments(text, 'test.yaml');
  r!.metadata.creationTimestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();
  return normalize(r!) as TypedResource<K>;
}

const mesh = resource('MeshConfig', 'istio-system', 'default', [
  'extensionProviders:',
  '- name: otel',
  '  opentelemetry: {service: 127.0.0.1, port: 4318, http: {timeout: 2s, encoding: json}}',
  '- name: zipkin',
  '  zipkin: {service: "::1", port: 9411}',
  '- name: logs',
  '  console: {}',
  'defaultProviders:',
  '  tracing: [zipkin]',
]);

const reviews: TelemetryWorkload = { namespace: 'bookinfo', labels: { app: 'reviews', version: 'v1' } };
const inputs = (telemetries: TelemetryInputs['telemetries'], meshConfigs: TelemetryInputs['meshConfigs'] = [mesh]): TelemetryInputs => ({
  telemetries,
  meshConfigs,
  rootNamespace: 'istio-system',
});

test('nothing applied: the defaults (no tracing, 1 % sampling, access logs on, every metric)', (t) => {
  t.deepEqual(resolveTelemetry(inputs([], []), reviews), { settings: DEFAULT_TELEMETRY, problems: [] });
});

test('default providers from the MeshConfig, with Istio endpoints and defaults filled in', (t) => {
  const { settings, problems } = resolveTelemetry(inputs([]), reviews);
  t.deepEqual(problems, []);
  t.deepEqual(settings.tracing.providers, [
    { name: 'zipkin', kind: 'zipkin', endpoint: 'http://[::1]:9411/api/v2/spans', timeoutMs: 10_000, maxTagLength: 256 },
  ]);
});

test('mesh, namespace and workload levels: each field a level sets replaces the one above, the rest is inherited', (t) => {
  const root = resource('Telemetry', 'istio-system', 'mesh-default', [
    'tracing:',
    '- providers: [{name: otel}]',
    '  randomSamplingPercentage: 10',
    '  customTags: {team: {literal: {value: mesh}}}',
  ]);
  const ns = resource('Telemetry', 'bookinfo', 'ns', ['tracing:', '- randomSamplingPercentage: 100']);
  const wl = resource('Telemetry', 'bookinfo', 'reviews', [
    'selector: {matchLabels: {app: reviews}}',
    'tracing:',
    '- customTags: {user: {header: {name: end-user, defaultValue: anon}}}',
  ]);
  const other = resource('Telemetry', 'bookinfo', 'ratings', ['selector: {matchLabels: {app: ratings}}', 'tracing:', '- randomSamplingPercentage: 0']);
  const { settings, problems } = resolveTelemetry(inputs([root, ns, wl, other]), reviews);
  t.deepEqual(problems, []);
  t.deepEqual(settings.tracing, {
    providers: [{ name: 'otel', kind: 'opentelemetry', endpoint: 'http://127.0.0.1:4318/v1/traces', encoding: 'json', timeoutMs: 2000, headers: {} }],
    samplingPercentage: 100,
    customTags: { user: { kind: 'header', name: 'end-user', defaultValue: 'anon' } },
  });
  // Another namespace sees only the mesh level.
  const elsewhere = resolveTelemetry(inputs([root, ns, wl]), { namespace: 'shop', labels: { app: 'reviews' } }).settings.tracing;
  t.is(elsewhere.samplingPercentage, 10);
  t.deepEqual(elsewhere.customTags, { team: { kind: 'literal', value: 'mesh' } });
});

test('disableSpanReporting turns spans off for the workload only', (t) => {
  const root = resource('Telemetry', 'istio-system', 'mesh-default', ['tracing:', '- providers: [{name: otel}, {name: logs}]']);
  const off = resource('Telemetry', 'bookinfo', 'quiet', ['selector: {matchLabels: {version: v1}}', 'tracing:', '- disableSpanReporting: true']);
  t.deepEqual(resolveTelemetry(inputs([root, off]), reviews).settings.tracing.providers, []);
  t.deepEqual(
    resolveTelemetry(inputs([root, off]), { ...reviews, labels: { app: 'reviews', version: 'v2' } }).settings.tracing.providers.map((p) => p.name),
    ['otel', 'logs'],
  );
});

test('targetRefs select a waypoint by the service it serves or by its own name, never a workload by labels', (t) => {
  const byService = resource('Telemetry', 'bookinfo', 'wp', ['targetRefs: [{kind: Service, group: "", name: reviews}]', 'accessLogging:', '- disabled: true']);
  t.false(resolveTelemetry(inputs([byService]), { namespace: 'bookinfo', serviceName: 'reviews' }).settings.accessLogging.enabled);
  t.true(resolveTelemetry(inputs([byService]), reviews).settings.accessLogging.enabled);
  const byGateway = resource('Telemetry', 'bookinfo', 'gw', [
    'targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: reviews-waypoint}',
    'accessLogging:',
    '- disabled: true',
  ]);
  t.false(resolveTelemetry(inputs([byGateway]), { namespace: 'bookinfo', waypointName: 'reviews-waypoint' }).settings.accessLogging.enabled);
});

test('access logs: disabled per workload, a filter per namespace, filters of several providers combined', (t) => {
  const ns = resource('Telemetry', 'bookinfo', 'ns', ['accessLogging:', '- filter: {expression: response.code >= 400}']);
  const wl = resource('Telemetry', 'bookinfo', 'reviews', ['selector: {matchLabels: {app: reviews}}', 'accessLogging:', '- disabled: true']);
  t.deepEqual(resolveTelemetry(inputs([ns]), reviews).settings.accessLogging, { enabled: true, filter: 'response.code >= 400' });
  t.deepEqual(resolveTelemetry(inputs([ns, wl]), reviews).settings.accessLogging, { enabled: false, filter: undefined });
  const file = resource('MeshConfig', 'istio-system', 'default', ['extensionProviders:', '- name: stdout', '  envoyFileAccessLog: {path: /dev/stdout}']);
  const two = resource('Telemetry', 'bookinfo', 'two', [
    'accessLogging:',
    '- providers: [{name: envoy}]',
    '  filter: {expression: response.code >= 500}',
    '- providers: [{name: stdout}]',
    "  filter: {expression: request.method == 'POST'}",
  ]);
  t.deepEqual(resolveTelemetry(inputs([two], [file]), reviews).settings.accessLogging, {
    enabled: true,
    filter: "(response.code >= 500) || (request.method == 'POST')",
  });
  const none = resource('MeshConfig', 'istio-system', 'default', ['defaultProviders: {accessLogging: []}']);
  t.false(resolveTelemetry(inputs([], [none]), reviews).settings.accessLogging.enabled);
});

test('metric overrides add up from mesh to workload, the more specific later', (t) => {
  const root = resource('Telemetry', 'istio-system', 'mesh-default', [
    'metrics:',
    '- overrides:',
    '  - match: {metric: ALL_METRICS}',
    '    tagOverrides: {request_protocol: {operation: REMOVE}}',
  ]);
  const wl = resource('Telemetry', 'bookinfo', 'reviews', [
    'selector: {matchLabels: {app: reviews}}',
    'metrics:',
    '- providers: [{name: prometheus}]',
    '  overrides:',
    '  - match: {metric: REQUEST_DURATION}',
    '    disabled: true',
    '  - match: {metric: REQUEST_COUNT}',
    '    tagOverrides: {request_protocol: {value: "request.headers[\'x-proto\']"}}',
  ]);
  const { metrics } = resolveTelemetry(inputs([root, wl]), reviews).settings;
  t.is(metrics.length, 3);
  const count = compileMetric(metrics, 'REQUEST_COUNT');
  const duration = compileMetric(metrics, 'REQUEST_DURATION');
  const size = compileMetric(metrics, 'REQUEST_SIZE');
  t.false(count.disabled);
  t.true(duration.disabled);
  t.false(size.disabled);
  const attrs = { responseCode: 200, method: 'GET', host: 'reviews', path: '/', headers: { 'x-proto': 'h2c' }, mtls: true };
  const labels = { request_protocol: 'http', response_code: '200' };
  t.deepEqual(applyLabelOperations(labels, count, attrs), { request_protocol: 'h2c', response_code: '200' });
  t.deepEqual(applyLabelOperations(labels, size, attrs), { request_protocol: '', response_code: '200' });
  t.is(applyLabelOperations(labels, compileMetric([], 'REQUEST_COUNT'), attrs), labels, 'no override: the same object, no copy per request');
});

test('a tag an override names that the metric does not carry is reported, not silently added', (t) => {
  const wl = resource('Telemetry', 'bookinfo', 'reviews', ['metrics:', '- overrides:', "  - tagOverrides: {request_host: {value: 'request.host'}}"]);
  const compiled = compileMetric(resolveTelemetry(inputs([wl]), reviews).settings.metrics, 'REQUEST_COUNT');
  t.deepEqual(unknownTags(compiled, ['response_code']), ['request_host']);
});

test('a workload whose metrics providers include no metrics provider exports no istio_* metrics', (t) => {
  const wl = resource('Telemetry', 'bookinfo', 'reviews', ['metrics:', '- providers: [{name: envoy}]']);
  const { settings, problems } = resolveTelemetry(inputs([wl]), reviews);
  t.deepEqual(settings.metrics, [{ metric: undefined, disabled: true, tagOverrides: {} }]);
  t.deepEqual(problems, ['provider envoy is an access-log provider, not a metrics one']);
});

test('conflicts and misplaced resources are reported and the oldest applies', (t) => {
  const first = resource('Telemetry', 'bookinfo', 'a', ['tracing:', '- randomSamplingPercentage: 20']);
  const second = resource('Telemetry', 'bookinfo', 'b', ['tracing:', '- randomSamplingPercentage: 30']);
  const rootSelector = resource('Telemetry', 'istio-system', 'picky', [
    'selector: {matchLabels: {app: reviews}}',
    'tracing:',
    '- randomSamplingPercentage: 40',
  ]);
  const unknown = resource('Telemetry', 'bookinfo', 'c', ['selector: {matchLabels: {app: reviews}}', 'tracing:', '- providers: [{name: jaeger}]']);
  const misplaced = resource('MeshConfig', 'bookinfo', 'local', ['defaultProviders: {accessLogging: [envoy]}']);
  const { settings, problems } = resolveTelemetry(inputs([first, second, rootSelector, unknown], [mesh, misplaced]), reviews);
  t.is(settings.tracing.samplingPercentage, 20);
  t.deepEqual(settings.tracing.providers, []);
  t.deepEqual(problems.sort(), [
    'MeshConfig bookinfo/local is ignored: it belongs in the root namespace istio-system',
    'Telemetry bookinfo/b is ignored: bookinfo/a is older and already sets the namespace bookinfo telemetry',
    'Telemetry istio-system/picky is ignored: a resource in the root namespace istio-system applies mesh-wide and may not select workloads',
    "provider jaeger is not declared in the MeshConfig's extensionProviders",
  ]);
});

/** Telemetry (telemetry.istio.io) and MeshConfig (ambit.dev) documents: what applies, and what is refused at which line. */
import test, { type ExecutionContext } from 'ava';
import { parseDocuments } from '../../core/config/index.js';
import { FILE, doc, problems } from './support/config-docs.js';

function accepted(t: ExecutionContext, text: string): void {
  t.notThrows(() => parseDocuments(text, FILE));
}

function refused(t: ExecutionContext, text: string, line: number, field: string, detail: RegExp): void {
  const errs = problems(text);
  t.is(errs.length, 1, errs.map((e) => e.message).join('\n'));
  t.is(errs[0]!.location?.line, line, errs[0]!.message);
  t.is(errs[0]!.field, field);
  t.regex(errs[0]!.message, detail);
}

const MESH_TRACING = ['tracing:', '- providers:', '  - name: otel', '  randomSamplingPercentage: 10.5'];

test('Telemetry applies as telemetry.istio.io/v1 and v1alpha1, and no other version', (t) => {
  accepted(t, doc('Telemetry', 'mesh-default', MESH_TRACING, 'telemetry.istio.io/v1'));
  accepted(t, doc('Telemetry', 'mesh-default', MESH_TRACING, 'telemetry.istio.io/v1alpha1'));
  const errs = problems(doc('Telemetry', 'mesh-default', MESH_TRACING, 'telemetry.istio.io/v1beta1'));
  t.regex(errs[0]!.message, /use one of telemetry\.istio\.io\/v1, telemetry\.istio\.io\/v1alpha1/);
});

test("every section of Istio's documented examples applies unmodified", (t) => {
  accepted(
    t,
    doc('Telemetry', 'reviews', [
      'selector:',
      '  matchLabels:',
      '    app: reviews',
      'tracing:',
      '- randomSamplingPercentage: 100',
      '  disableSpanReporting: false',
      '  customTags:',
      '    team:',
      '      literal:',
      '        value: books',
      '    cluster:',
      '      environment:',
      '        name: CLUSTER_NAME',
      '        defaultValue: unknown',
      '    user:',
      '      header:',
      '        name: end-user',
      'metrics:',
      '- providers:',
      '  - name: prometheus',
      '  overrides:',
      '  - match:',
      '      metric: REQUEST_COUNT',
      '      mode: CLIENT_AND_SERVER',
      '    tagOverrides:',
      '      request_protocol:',
      '        operation: REMOVE',
      '      destination_version:',
      '        value: "request.headers[\'x-version\']"',
      '  - match:',
      '      metric: ALL_METRICS',
      '    disabled: false',
      '  - match:',
      '      metric: REQUEST_DURATION',
      '    disabled: true',
      'accessLogging:',
      '- providers:',
      '  - name: envoy',
      '  filter:',
      '    expression: response.code >= 400',
      '- disabled: true',
    ]),
  );
  accepted(t, doc('Telemetry', 'w', ['targetRefs:', '- kind: Service', '  group: ""', '  name: reviews', 'accessLogging:', '- disabled: true']));
});

test('a filter outside the CEL subset is refused at its line, naming the construct', (t) => {
  refused(
    t,
    doc('Telemetry', 'x', ['accessLogging:', '- filter:', '    expression: size(request.path) > 3']),
    8,
    'spec.accessLogging[0].filter.expression',
    /outside the supported CEL subset: function call 'size\(\)'/,
  );
});

test('a tag override value outside the subset, and UPSERT without a value, are refused', (t) => {
  refused(
    t,
    doc('Telemetry', 'x', ['metrics:', '- overrides:', '  - tagOverrides:', '      x:', '        value: upstream.address']),
    10,
    'spec.metrics[0].overrides[0].tagOverrides.x.value',
    /tag override "upstream.address" .*attribute 'upstream.address'/,
  );
  refused(
    t,
    doc('Telemetry', 'x', ['metrics:', '- overrides:', '  - tagOverrides:', '      x:', '        operation: UPSERT']),
    9,
    'spec.metrics[0].overrides[0].tagOverrides.x.value',
    /is required for operation UPSERT/,
  );
});

test('fields ambit does not implement are refused with the reason', (t) => {
  refused(
    t,
    doc('Telemetry', 'x', ['tracing:', '- useRequestIdForTraceSampling: true']),
    7,
    'spec.tracing[0].useRequestIdForTraceSampling',
    /samples by trace id/,
  );
  refused(t, doc('Telemetry', 'x', ['metrics:', '- reportingInterval: 10s']), 7, 'spec.metrics[0].reportingInterval', /Prometheus scrapes/);
  refused(
    t,
    doc('Telemetry', 'x', ['metrics:', '- overrides:', '  - match:', '      customMetric: my_metric']),
    9,
    'spec.metrics[0].overrides[0].match.customMetric',
    /standard istio_\* metrics/,
  );
  refused(t, doc('Telemetry', 'x', ['tracing:', '- match:', '    mode: SERVER']), 8, 'spec.tracing[0].match.mode', /value SERVER is not supported by ambit/);
  refused(t, doc('Telemetry', 'x', ['tracing:', '- providers: [{name: a}]', '- providers: [{name: b}]']), 6, 'spec.tracing', /has 2 entries/);
  refused(
    t,
    doc('Telemetry', 'x', ['selector: {matchLabels: {app: a}}', 'targetRefs: [{kind: Service, name: a}]']),
    5,
    'spec',
    /only one of selector, targetRef, targetRefs/,
  );
  refused(
    t,
    doc('Telemetry', 'x', ['metrics:', '- overrides:', '  - match:', '      metric: REQUEST_COUNTS']),
    9,
    'spec.metrics[0].overrides[0].match.metric',
    /must be one of REQUEST_COUNT/,
  );
});

const MESH = [
  'extensionProviders:',
  '- name: otel',
  '  opentelemetry:',
  '    service: 127.0.0.1',
  '    port: 4318',
  '    http:',
  '      path: /v1/traces',
  '      timeout: 2s',
  '      headers:',
  '      - name: authorization',
  '        value: Bearer x',
  '- name: zipkin',
  '  zipkin:',
  '    service: zipkin.observability.svc.cluster.local',
  '    port: 9411',
  '    maxTagLength: 56',
  '- name: logs',
  '  console: {}',
  'defaultProviders:',
  '  tracing: [otel, zipkin]',
  '  metrics: [prometheus]',
  '  accessLogging: [envoy]',
];

test('MeshConfig declares providers as Istio does; ambit.dev/v1alpha1 only', (t) => {
  accepted(t, doc('MeshConfig', 'default', MESH));
  const errs = problems(doc('MeshConfig', 'default', MESH, 'ambit.dev/v1'));
  t.regex(errs[0]!.message, /use one of ambit\.dev\/v1alpha1/);
});

test('MeshConfig refuses OTLP/gRPC, a provider with two types, unknown or mistyped defaults, duplicate and built-in names', (t) => {
  const grpc = problems(
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: otel', '  opentelemetry:', '    service: 127.0.0.1', '    port: 4317', '    grpc: {}']),
  );
  t.deepEqual(
    grpc.map((e) => [e.location?.line, e.field]),
    [
      [11, 'spec.extensionProviders[0].opentelemetry.grpc'],
      [8, 'spec.extensionProviders[0].opentelemetry.http'],
    ],
  );
  t.regex(grpc[0]!.message, /OTLP over HTTP only: set http/);
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: otel', '  opentelemetry:', '    service: 127.0.0.1', '    port: 4318']),
    8,
    'spec.extensionProviders[0].opentelemetry.http',
    /is required/,
  );
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: two', '  console: {}', '  prometheus: {}']),
    7,
    'spec.extensionProviders[0]',
    /exactly one of .*not console and prometheus/,
  );
  refused(t, doc('MeshConfig', 'default', ['defaultProviders:', '  tracing: [nope]']), 7, 'spec.defaultProviders.tracing[0]', /provider nope is not declared/);
  refused(
    t,
    doc('MeshConfig', 'default', ['defaultProviders:', '  tracing: [prometheus]']),
    7,
    'spec.defaultProviders.tracing[0]',
    /is a metrics provider, not a tracing one/,
  );
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: a', '  console: {}', '- name: a', '  console: {}']),
    9,
    'spec.extensionProviders[1].name',
    /declared twice/,
  );
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: envoy', '  console: {}']),
    7,
    'spec.extensionProviders[0].name',
    /built-in provider name/,
  );
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: f', '  envoyFileAccessLog:', '    path: /var/log/access.log']),
    9,
    'spec.extensionProviders[0].envoyFileAccessLog.path',
    /use \/dev\/stdout/,
  );
  refused(
    t,
    doc('MeshConfig', 'default', ['extensionProviders:', '- name: d', '  datadog: {}']),
    8,
    'spec.extensionProviders[0].datadog',
    /OpenTelemetry collector/,
  );
});

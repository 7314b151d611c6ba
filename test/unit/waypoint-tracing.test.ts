/** The waypoint's tracing settings file and the attributes its spans get (request-trace.ts), without a network. */
import test from 'ava';
import { ConfigErrors } from '../../core/errors.js';
import { DEFAULT_TELEMETRY, type TracingSettings } from '../../core/telemetry/settings.js';
import { tracingSettingsFor } from '../../waypoint/tracing-source.js';
import { parseWaypointSettings } from '../../waypoint/settings.js';
import { requestAttributes, requestErrorType } from '../../waypoint/request-trace.js';
import { openExchange } from '../../waypoint/exchange.js';
import type { DownstreamRequest } from '../../waypoint/request-body.js';

const FILE = '/etc/ambit/ambit-waypoint.yaml';

test('no file section: tracing off, as without a file', (t) => {
  t.deepEqual(parseWaypointSettings('', FILE).tracing, DEFAULT_TELEMETRY.tracing);
});

test('providers in Istio extensionProviders form, defaults filled in, custom tags', (t) => {
  const text = [
    'tracing:',
    '  samplingPercentage: 12.5',
    '  providers:',
    '    - name: otel',
    '      opentelemetry: {endpoint: "http://127.0.0.1:4318/v1/traces", headers: {x-token: abc}}',
    '    - name: zipkin',
    '      zipkin: {endpoint: "http://127.0.0.1:9411/api/v2/spans", timeout: 2s, maxTagLength: 64}',
    '    - name: log',
    '      console: {}',
    '  customTags:',
    '    team: {literal: {value: bookinfo}}',
    '    user: {header: {name: x-user, defaultValue: anon}}',
    '    zone: {environment: {name: ZONE}}',
  ].join('\n');
  const s = parseWaypointSettings(text, FILE).tracing;
  t.is(s.samplingPercentage, 12.5);
  t.deepEqual(s.providers, [
    {
      name: 'otel',
      kind: 'opentelemetry',
      endpoint: 'http://127.0.0.1:4318/v1/traces',
      encoding: 'protobuf',
      timeoutMs: 10_000,
      headers: { 'x-token': 'abc' },
    },
    { name: 'zipkin', kind: 'zipkin', endpoint: 'http://127.0.0.1:9411/api/v2/spans', timeoutMs: 2000, maxTagLength: 64 },
    { name: 'log', kind: 'console' },
  ]);
  t.deepEqual(s.customTags, {
    team: { kind: 'literal', value: 'bookinfo' },
    user: { kind: 'header', name: 'x-user', defaultValue: 'anon' },
    zone: { kind: 'environment', name: 'ZONE' },
  });
});

test('bad tracing settings are refused with file:line and field, every problem at once', (t) => {
  const text = [
    'tracing:',
    '  samplingPercentage: 101',
    '  providers:',
    '    - name: a',
    '      opentelemetry: {endpoint: "udp://x:1"}',
    '    - name: b',
    '      zipkin: {endpoint: "http://x:9411"}',
    '      console: {}',
    '    - name: a',
    '      console: {}',
    '    - name: c',
    '      jaeger: {}',
  ].join('\n');
  const err = t.throws(() => parseWaypointSettings(text, FILE), { instanceOf: ConfigErrors });
  const got = err.errors.map((e) => [e.field, e.location?.line]);
  t.deepEqual(
    got.map(([f]) => f),
    ['tracing.samplingPercentage', 'tracing.providers[0].opentelemetry.endpoint', 'tracing.providers[1]', 'tracing.providers[3].jaeger'],
  );
  t.is(got[0]![1], 2);
  t.regex(err.message, /must be at most 100/);
  t.regex(err.message, /http:\/\/ or https:\/\//);
  t.regex(err.message, /only one of opentelemetry, zipkin, console/);
  const dup = t.throws(() => parseWaypointSettings('tracing: {providers: [{name: a, console: {}}, {name: a, console: {}}]}', FILE), {
    instanceOf: ConfigErrors,
  });
  t.regex(dup.message, /provider a is listed twice/);
});

const request = (headers: Record<string, string>, url = '/reviews/1?x=1', httpVersion = '1.1'): DownstreamRequest =>
  ({ headers, url, method: 'POST', httpVersion, httpVersionMajor: Number(httpVersion[0]) }) as unknown as DownstreamRequest;

test('SERVER attributes: OTel HTTP semantic conventions, the request id as Envoy tags it, the caller', (t) => {
  const req = request({ host: 'reviews:9080', 'user-agent': 'curl/8', 'x-request-id': 'rid-1' });
  const x = openExchange(req, undefined);
  t.deepEqual(requestAttributes(req, x, { principal: 'spiffe://cluster.local/ns/default/sa/productpage', address: '10.0.0.7' }, 9080), {
    'http.request.method': 'POST',
    'url.path': '/reviews/1',
    'url.query': 'x=1',
    'url.scheme': 'http',
    'server.address': 'reviews',
    'server.port': 9080,
    'network.protocol.version': '1.1',
    'client.address': '10.0.0.7',
    'guid:x-request-id': 'rid-1',
    'ambit.source_principal': 'spiffe://cluster.local/ns/default/sa/productpage',
    'user_agent.original': 'curl/8',
  });
  const h2 = request({ ':authority': '[fd00::1]', ':path': '/' }, '/', '2.0');
  const a = requestAttributes(h2, openExchange(h2, undefined), { principal: 'p', address: 'a' }, 9080);
  t.is(a['server.address'], 'fd00::1');
  t.is(a['server.port'], 9080, 'the port dialled when the authority has none');
  t.is(a['network.protocol.version'], '2');
});

test('SERVER error.type: a 5xx status, or a client that left unanswered; nothing for the rest', (t) => {
  t.is(requestErrorType({ status: 503, clientGone: false }), '503');
  t.is(requestErrorType({ status: 404, clientGone: false }), undefined);
  t.is(requestErrorType({ status: 0, clientGone: true }), 'client_disconnected');
  t.is(requestErrorType({ status: 200, clientGone: true }), undefined);
});

test('tracing source: the settings file until a MeshConfig declares a tracing provider, then the Telemetry API, off included', (t) => {
  const file = { providers: [{ name: 'log', kind: 'console' as const }], samplingPercentage: 5, customTags: {} };
  const meshWith = (...providers: Record<string, unknown>[]) =>
    ({ typed: { of: () => [{ spec: { extensionProviders: providers } }] } }) as unknown as Parameters<typeof tracingSettingsFor>[0];
  const resolved = (tracing: Record<string, TracingSettings | undefined>) =>
    ({ telemetryFor: (fqdn: string) => (tracing[fqdn] ? { settings: { tracing: tracing[fqdn] } } : undefined) }) as unknown as Parameters<
      typeof tracingSettingsFor
    >[1];
  const zipkin = {
    providers: [{ name: 'z', kind: 'zipkin' as const, endpoint: 'http://z:9411/api/v2/spans', timeoutMs: 1, maxTagLength: 1 }],
    samplingPercentage: 1,
    customTags: {},
  };
  const off = { providers: [], samplingPercentage: 1, customTags: {} };
  const services = ['a.default.svc.cluster.local', 'b.default.svc.cluster.local'];

  const none = { typed: { of: () => [] } } as unknown as Parameters<typeof tracingSettingsFor>[0];
  t.deepEqual(tracingSettingsFor(none, resolved({}), services, file), { settings: file, source: { kind: 'settings-file' } });
  t.is(
    tracingSettingsFor(meshWith({ name: 'prometheus', prometheus: {} }), resolved({}), services, file).settings,
    file,
    'a MeshConfig without a tracing provider',
  );
  const api = tracingSettingsFor(meshWith({ name: 'z', zipkin: {} }), resolved({ [services[0]!]: off, [services[1]!]: zipkin }), services, file);
  t.deepEqual(api, { settings: zipkin, source: { kind: 'telemetry-api', service: services[1] } }, 'the first served service that names a provider');
  t.deepEqual(
    tracingSettingsFor(meshWith({ name: 'z', zipkin: {} }), resolved({ [services[0]!]: off, [services[1]!]: off }), services, file).settings,
    off,
    "the Telemetry API's off wins over the file",
  );
});

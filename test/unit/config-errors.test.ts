import test from 'ava';
import { ConfigErrors } from '../../core/errors.js';
import { parseDocuments } from '../../core/config/index.js';
import { FILE, doc, problems } from './support/config-docs.js';

const reviews = (...extra: string[]) => ['- destination:', '    host: reviews', ...extra];

function one(t: import('ava').ExecutionContext, text: string, line: number, field: string, detail: RegExp, resource = 'VirtualService default/reviews') {
  const errs = problems(text);
  t.is(errs.length, 1, errs.map((e) => e.message).join('\n'));
  const [e] = errs;
  t.is(e!.location?.file, FILE);
  t.is(e!.location?.line, line);
  t.is(e!.resource, resource);
  t.is(e!.field, field);
  t.regex(e!.message, detail);
  t.true(e!.message.startsWith(`${FILE}:${line}: ${resource}: ${field}: `), e!.message);
}

test('an unknown field in a route is rejected at its line', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'http:',
    '- corsPolicy:',
    '    allowOrigins: []',
    '  route:',
    ...reviews().map((l) => `  ${l}`),
  ]);
  one(t, text, 8, 'spec.http[0].corsPolicy', /field corsPolicy is not supported by ambit: CORS/);
});

test('a field Istio does not have is rejected too', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- route:', '  - destination:', '      host: reviews', '      subnet: v1']);
  one(t, text, 11, 'spec.http[0].route[0].destination.subnet', /field subnet is not supported by ambit/);
});

test('a wrong type names the type found', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- route:', '  - destination:', '      host: reviews', '    weight: "100"']);
  one(t, text, 11, 'spec.http[0].route[0].weight', /must be an integer, not string "100"/);
});

test('an invalid regex is reported with its field', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'http:',
    '- match:',
    '  - uri:',
    '      regex: "/api/([a-z"',
    '  route:',
    ...reviews().map((l) => `  ${l}`),
  ]);
  one(t, text, 10, 'spec.http[0].match[0].uri.regex', /invalid regular expression "\/api\/\(\[a-z"/);
});

/** A route on reviews whose first match is `match` (YAML lines, the match's first line is line 9). */
const matching = (...match: string[]) =>
  doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- match:', ...match.map((l) => `  ${l}`), '  route:', ...reviews().map((l) => `  ${l}`)]);

test('RE2 has no lookahead: refused at apply with its field, not left to the waypoint', (t) => {
  one(
    t,
    matching('- uri:', '    regex: "/(?!admin).*"'),
    10,
    'spec.http[0].match[0].uri.regex',
    /invalid regular expression "\/\(\?!admin\)\.\*": RE2 .* does not support lookahead "\(\?!"/,
  );
});

test('RE2 has no lookbehind, backreferences, atomic groups or possessive quantifiers', (t) => {
  one(
    t,
    matching('- headers:', '    x-user:', '      regex: "(a)\\\\1"'),
    11,
    'spec.http[0].match[0].headers.x-user.regex',
    /"\(a\)\\\\1": RE2 .* does not support backreferences \(\\1\)/,
  );
  one(
    t,
    matching('- queryParams:', '    q:', '      regex: "(?<=x)y"'),
    11,
    'spec.http[0].match[0].queryParams.q.regex',
    /does not support lookbehind "\(\?<="/,
  );
  one(t, matching('- authority:', '    regex: "(?>a)b"'), 10, 'spec.http[0].match[0].authority.regex', /does not support atomic groups/);
  one(t, matching('- method:', '    regex: "G+E++T"'), 10, 'spec.http[0].match[0].method.regex', /does not support possessive quantifiers \(\+\+\)/);
});

test('an empty regex and one over 1024 bytes are refused, as Istio does', (t) => {
  one(t, matching('- uri:', '    regex: ""'), 10, 'spec.http[0].match[0].uri.regex', /regex must not be empty/);
  one(t, matching('- uri:', `    regex: "${'a'.repeat(1025)}"`), 10, 'spec.http[0].match[0].uri.regex', /regex is 1025 bytes; Istio allows at most 1024/);
});

test('RE2 syntax that JavaScript lacks is accepted', (t) => {
  const text = matching('- uri:', '    regex: "(?i)/API/\\\\Q.v1\\\\E/[[:digit:]]+"', '  headers:', '    x-tag:', '      regex: "\\\\p{Greek}+"');
  t.notThrows(() => parseDocuments(text, FILE));
});

test('weights that do not add up to 100 are rejected at the route', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'http:',
    '- route:',
    '  - destination: {host: reviews, subset: v1}',
    '    weight: 80',
    '  - destination: {host: reviews, subset: v2}',
    '    weight: 30',
  ]);
  one(t, text, 8, 'spec.http[0].route', /weights must add up to 100, not 110/);
});

test('two destinations without weights are rejected', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'tcp:',
    '- route:',
    '  - destination: {host: reviews}',
    '  - destination: {host: ratings}',
  ]);
  one(t, text, 8, 'spec.tcp[0].route', /weights must add up to 100, not 0/);
});

test('a bad duration is reported with its field', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- timeout: 5 seconds', '  route:', ...reviews().map((l) => `  ${l}`)]);
  one(t, text, 8, 'spec.http[0].timeout', /"5 seconds" is not a duration/);
});

test('an unknown retry condition is rejected', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'http:',
    '- retries:',
    '    attempts: 3',
    '    retryOn: 5xx,sometimes',
    '  route:',
    ...reviews().map((l) => `  ${l}`),
  ]);
  one(t, text, 10, 'spec.http[0].retries.retryOn', /unknown retry condition "sometimes"/);
});

test('an apiVersion from the wrong group is rejected', (t) => {
  const text = doc('AuthorizationPolicy', 'deny', ['action: DENY'], 'networking.istio.io/v1');
  one(
    t,
    text,
    1,
    'apiVersion',
    /networking.istio.io\/v1 is not an apiVersion of AuthorizationPolicy \(use one of security.istio.io\/v1, /,
    'AuthorizationPolicy default/deny',
  );
});

test('an unknown apiVersion version is rejected', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]'], 'networking.istio.io/v2');
  one(t, text, 1, 'apiVersion', /is not an apiVersion of VirtualService/);
});

test('an unknown kind is rejected', (t) => {
  const text = ['apiVersion: networking.istio.io/v1', 'kind: Gateway', 'metadata:', '  name: gw', 'spec: {}'].join('\n');
  one(t, text, 2, 'kind', /kind Gateway is not supported by ambit/, 'Gateway default/gw');
});

test('a YAML syntax error carries file and line', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews', 'http: []']);
  const errs = problems(text);
  t.true(errs.length >= 1);
  t.is(errs[0]!.code, 'ECONFIG_YAML');
  t.is(errs[0]!.location?.line, 7);
  t.regex(errs[0]!.message, /^test\.yaml:7: invalid YAML: /);
});

test('an invalid ipBlock is reported at its list item', (t) => {
  const text = doc('AuthorizationPolicy', 'p', ['rules:', '- from:', '  - source:', '      ipBlocks:', '      - 10.0.0.0/8', '      - 1.2.3.4/40']);
  one(t, text, 11, 'spec.rules[0].from[0].source.ipBlocks[1]', /"1.2.3.4\/40" is not an IP address or CIDR range/, 'AuthorizationPolicy default/p');
});

test('a duplicate subset name is rejected at the second one', (t) => {
  const text = doc('DestinationRule', 'reviews', [
    'host: reviews',
    'subsets:',
    '- name: v1',
    '  labels: {version: v1}',
    '- name: v1',
    '  labels: {version: v2}',
  ]);
  one(t, text, 10, 'spec.subsets[1].name', /duplicate subset name "v1" \(also subsets\[0\]\)/, 'DestinationRule default/reviews');
});

test('the same resource twice in a file names both places', (t) => {
  const a = doc('VirtualService', 'reviews', ['hosts: [reviews]']);
  const errs = problems(`${a}\n---\n${a}\n`);
  t.is(errs.length, 1);
  t.is(errs[0]!.code, 'ECONFIG_DUPLICATE');
  t.is(errs[0]!.location?.line, 8);
  t.is(errs[0]!.message, 'test.yaml:8: VirtualService default/reviews: defined twice: at test.yaml:1 and at test.yaml:8');
});

test('a missing required field is reported at its parent line', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- route:', '  - destination:', '      subset: v1']);
  one(t, text, 9, 'spec.http[0].route[0].destination.host', /is required/);
});

test('a route needs route, redirect or directResponse', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'http:', '- timeout: 1s']);
  one(t, text, 8, 'spec.http[0]', /one of route, redirect, directResponse is required/);
});

test('a StringMatch takes exactly one of exact, prefix, regex', (t) => {
  const text = doc('VirtualService', 'reviews', [
    'hosts: [reviews]',
    'http:',
    '- match:',
    '  - uri: {exact: /a, prefix: /b}',
    '  route:',
    ...reviews().map((l) => `  ${l}`),
  ]);
  one(t, text, 9, 'spec.http[0].match[0].uri', /only one of exact, prefix, regex may be set, not exact and prefix/);
});

test('gateways other than mesh are rejected', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'gateways:', '- mesh', '- bookinfo-gateway']);
  one(t, text, 9, 'spec.gateways[1]', /must be one of mesh/);
});

test('tls routes are rejected as not supported', (t) => {
  const text = doc('VirtualService', 'reviews', ['hosts: [reviews]', 'tls: []']);
  one(t, text, 7, 'spec.tls', /field tls is not supported by ambit/);
});

test('CUSTOM authorization is rejected as not supported', (t) => {
  const text = doc('AuthorizationPolicy', 'ext', ['action: CUSTOM', 'provider:', '  name: opa']);
  const errs = problems(text);
  t.deepEqual(
    errs.map((e) => [e.location?.line, e.field, e.code]),
    [
      [6, 'spec.action', 'ECONFIG_UNSUPPORTED'],
      [7, 'spec.provider', 'ECONFIG_UNSUPPORTED'],
    ],
  );
});

test('a DestinationRule TLS mode other than DISABLE / ISTIO_MUTUAL is not supported', (t) => {
  const text = doc('DestinationRule', 'reviews', ['host: reviews', 'trafficPolicy:', '  tls:', '    mode: SIMPLE']);
  one(t, text, 9, 'spec.trafficPolicy.tls.mode', /value SIMPLE is not supported by ambit/, 'DestinationRule default/reviews');
});

test('an unknown top-level field is rejected; status is accepted and dropped', (t) => {
  const text = `${doc('VirtualService', 'reviews', ['hosts: [reviews]'])}\nstatus: {observedGeneration: 1}\nextra: 1`;
  one(t, text, 8, 'extra', /field extra is not supported by ambit/);
  const [r] = parseDocuments(`${doc('VirtualService', 'reviews', ['hosts: [reviews]'])}\nstatus: {}`, FILE);
  t.false('status' in r!);
});

test('an invalid name is rejected', (t) => {
  const text = doc('VirtualService', 'Reviews_1', ['hosts: [reviews]']);
  one(t, text, 4, 'metadata.name', /"Reviews_1" is not a valid name/, 'VirtualService default/Reviews_1');
});

test('an annotation key with dots is named in brackets', (t) => {
  const text = [
    'apiVersion: security.istio.io/v1',
    'kind: AuthorizationPolicy',
    'metadata:',
    '  name: p',
    '  annotations:',
    '    istio.io/dry-run: true',
    'spec: {}',
  ].join('\n');
  one(t, text, 6, 'metadata.annotations["istio.io/dry-run"]', /must be a string, not boolean true/, 'AuthorizationPolicy default/p');
});

test('every problem in every document is reported at once', (t) => {
  const a = doc('VirtualService', 'a', ['hosts: [a]', 'http:', '- timeout: soon', '  route:', '  - destination: {host: a}', '    weight: 50']);
  const b = doc('DestinationRule', 'b', ['host: b', 'trafficPolicy:', '  loadBalancer:', '    simple: FASTEST']);
  const err = t.throws(() => parseDocuments(`${a}\n---\n${b}\n`, FILE), { instanceOf: ConfigErrors });
  t.deepEqual(
    err.errors.map((e) => `${e.location?.line} ${e.resource} ${e.field}`),
    [
      '8 VirtualService default/a spec.http[0].timeout',
      '9 VirtualService default/a spec.http[0].route',
      '21 DestinationRule default/b spec.trafficPolicy.loadBalancer.simple',
    ],
  );
  t.is(err.code, 'ECONFIG_MULTIPLE');
});

test('an AuthorizationPolicy condition key must be one Istio defines', (t) => {
  const text = doc('AuthorizationPolicy', 'p', ['rules:', '- when:', '  - key: request.colour', '    values: [red]']);
  one(t, text, 8, 'spec.rules[0].when[0].key', /unknown condition key "request.colour"/, 'AuthorizationPolicy default/p');
});

test('selector and targetRef cannot both be set', (t) => {
  const text = doc('RequestAuthentication', 'jwt', ['selector: {matchLabels: {app: a}}', 'targetRef: {kind: Service, name: a}']);
  one(t, text, 5, 'spec', /only one of selector, targetRef, targetRefs may be set/, 'RequestAuthentication default/jwt');
});

import test from 'ava';
import { evaluateCondition, evaluateLabel, parseTelemetryExpression, type TelemetryAttributes } from '../../core/telemetry/expression.js';

const base: TelemetryAttributes = { responseCode: 200, method: 'GET', host: 'r', path: '/', headers: { x: 'y' }, mtls: true };

const cases: ReadonlyArray<[string, Partial<TelemetryAttributes>, boolean]> = [
  ['response.code >= 400', {}, false],
  ['response.code >= 400', { responseCode: 503 }, true],
  ['response.code == 503', { responseCode: 503 }, true],
  ['request.method == "GET"', {}, true],
  ['request.headers[\'x\'] == "y"', {}, true],
  ["request.headers['X'] == 'z'", {}, false],
  ["request.headers['missing'] == 'z'", {}, false],
  ['connection.mtls', { mtls: false }, false],
  ['!connection.mtls', { mtls: false }, true],
  ['response.code >= 500 || request.method == "POST"', { method: 'POST' }, true],
  ['(response.code >= 500 || request.method == "POST") && connection.mtls', { method: 'POST', mtls: false }, false],
];

for (const [src, attrs, want] of cases) {
  test(`filter ${src} on ${JSON.stringify(attrs)} is ${String(want)}`, (t) => {
    const p = parseTelemetryExpression(src, 'access-log filter');
    if (!p.ok) return t.fail(p.message);
    t.is(evaluateCondition(p.expression, { ...base, ...attrs }), want);
  });
}

const refused: ReadonlyArray<[string, string]> = [
  ['response.code + 1 > 2', "'+'"],
  ['size(request.path) > 2', 'function call'],
  ['request.path.startsWith("/a")', 'function call'],
  ['upstream.address == "x"', "attribute 'upstream.address'"],
  ['response.code in [200]', "'in'"],
  ['(response.code == 200', "expected ')'"],
];
for (const [src, names] of refused) {
  test(`filter ${src} is refused naming ${names}`, (t) => {
    const p = parseTelemetryExpression(src, 'access-log filter');
    t.false(p.ok);
    if (!p.ok) t.true(p.message.includes(names), p.message);
  });
}

test('tag override values: an attribute, a header, a literal; an absent attribute reads "unknown"', (t) => {
  const label = (src: string, attrs: Partial<TelemetryAttributes> = {}): string => {
    const p = parseTelemetryExpression(src, 'tag override');
    if (!p.ok) throw new Error(p.message);
    return evaluateLabel(p.expression, { ...base, ...attrs });
  };
  t.is(label('request.host'), 'r');
  t.is(label("request.headers['x']"), 'y');
  t.is(label("'canary'"), 'canary');
  t.is(label('response.code'), '200');
  t.is(label('request.path', { path: undefined }), 'unknown');
  t.is(label('response.code >= 500'), 'false');
});

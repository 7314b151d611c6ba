import test from 'ava';
import { compileIstioRegex, regexProblem } from '../../core/config/index.js';
import { ConfigError } from '../../core/errors.js';

test('Istio regexes match the whole value, as Envoy safe_regex (RE2 FullMatch)', (t) => {
  t.true(compileIstioRegex('/api/v[0-9]+').test('/api/v2'));
  t.false(compileIstioRegex('/api/v[0-9]+').test('/api/v2/x'));
  t.false(compileIstioRegex('v[0-9]+').test('/api/v2'));
  // An alternation is anchored as a whole, not only its first and last branch.
  t.false(compileIstioRegex('a|b').test('ab'));
  t.true(compileIstioRegex('a|ab').test('ab'));
  // Full match is not "$": (?m) does not let a match end before a newline.
  t.false(compileIstioRegex('(?m)a$').test('a\n'));
});

test('ordinary patterns match as before', (t) => {
  const api = compileIstioRegex('^/api/v[0-9]+/.*');
  t.true(api.test('/api/v12/users'));
  t.false(api.test('/api/vx/users'));
  const png = compileIstioRegex('.*\\.png');
  t.true(png.test('/img/logo.png'));
  t.false(png.test('/img/logo.pngx'));
  t.false(png.test('/img/logoXpng'));
  t.true(compileIstioRegex('\\d+').test('77'));
  t.true(compileIstioRegex('.*session=[a-z]+.*').test('a=1; session=abc'));
});

test('RE2 inline flags work anywhere in the pattern, not only leading', (t) => {
  t.true(compileIstioRegex('(?i)jason').test('JaSoN'));
  t.true(compileIstioRegex('/api/(?i:users)').test('/api/USERS'));
  t.false(compileIstioRegex('/api/(?i:users)').test('/API/users'));
  t.true(compileIstioRegex('(?s)a.b').test('a\nb'));
  t.false(compileIstioRegex('a.b').test('a\nb'));
});

test('nested quantifiers run in linear time: /(a+)+x against 5000 "a"s returns false', (t) => {
  // With a backtracking engine this test does not finish; RE2 answers at once.
  const re = compileIstioRegex('/(a+)+x');
  t.false(re.test(`/${'a'.repeat(5000)}`));
  t.true(re.test(`/${'a'.repeat(5000)}x`));
  t.false(compileIstioRegex('(x+x+)+y').test('x'.repeat(5000)));
});

test('what RE2 cannot do is a problem that names the construct', (t) => {
  const cases: [string, RegExp][] = [
    ['(?!foo).*', /does not support lookahead "\(\?!"/],
    ['(?=foo).*', /does not support lookahead "\(\?="/],
    ['(?<=a)b', /does not support lookbehind "\(\?<="/],
    ['(?<!a)b', /does not support lookbehind "\(\?<!"/],
    ['(a)\\1', /does not support backreferences \(\\1\)/],
    ['(?<n>a)\\k<n>', /does not support backreferences \(\\k\)/],
    ['(?>a)b', /does not support atomic groups/],
    ['a++', /does not support possessive quantifiers \(\+\+\)/],
    ['a{2}+', /does not support possessive quantifiers/],
    ['\\u0041', /does not support \\u escapes .*\\x\{41\}/],
    ['/api/([a-z', /missing closing \]: \[a-z/],
    ['*', /missing argument to repetition operator/],
    ['a{1001}', /invalid repeat count/],
  ];
  for (const [pattern, detail] of cases) {
    const problem = regexProblem(pattern);
    t.truthy(problem, pattern);
    t.true(problem!.startsWith(`invalid regular expression ${JSON.stringify(pattern)}: `), problem);
    t.regex(problem!, detail, pattern);
    t.regex(problem!, /write it in RE2 syntax \(https:\/\/github\.com\/google\/re2\/wiki\/Syntax\)$/);
  }
  t.is(regexProblem('(?P<id>[0-9]+)-(?<rest>.*)'), undefined);
});

test('compileIstioRegex refuses what regexProblem reports, as ECONFIG_VALUE', (t) => {
  const err = t.throws(() => compileIstioRegex('(?!x)'), { instanceOf: ConfigError });
  t.is(err?.code, 'ECONFIG_VALUE');
  t.is(err?.message, regexProblem('(?!x)') ?? 'a problem');
  t.throws(() => compileIstioRegex('(unclosed'), { instanceOf: ConfigError });
  t.throws(() => compileIstioRegex(''), { message: /must not be empty/ });
  t.notThrows(() => compileIstioRegex('a'.repeat(1024)));
  t.throws(() => compileIstioRegex('é'.repeat(513)), { message: /1026 bytes/ });
});

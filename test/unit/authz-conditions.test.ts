import test from 'ava';
import { compilePolicies, type AuthzError, type L4Request, type L7Request } from '../../core/authz/index.js';
import { conditionAttribute } from '../../core/authz/conditions.js';
import { allows, ap, l4, l7, plaintext } from './authz-helpers.js';

const when = (key: string, values?: string[], notValues?: string[]) => ({
  when: [{ key, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) }],
});
const admits = (key: string, values: string[] | undefined, request: L4Request | L7Request, notValues?: string[]) =>
  allows(when(key, values, notValues), request);

test('request.headers[...]: name case-insensitive, values with wildcards, "*" means present', (t) => {
  t.true(admits('request.headers[X-Token]', ['abc'], l7({ headers: { 'x-token': 'abc' } })));
  t.true(admits('request.headers[x-token]', ['a*'], l7({ headers: { 'x-token': 'abc' } })));
  t.false(admits('request.headers[X-Token]', ['abc'], l7()));
  t.true(admits('request.headers[X-Token]', ['*'], l7({ headers: { 'x-token': '' } })));
  t.true(admits('request.headers[X-Token]', ['a,b'], l7({ headers: { 'x-token': ['a', 'b'] } })), 'repeated headers join with ","');
});

test('request.headers notValues: absent header passes, "*" requires absence', (t) => {
  t.true(admits('request.headers[X-Token]', undefined, l7(), ['bad']));
  t.false(admits('request.headers[X-Token]', undefined, l7({ headers: { 'x-token': 'bad' } }), ['bad']));
  t.true(admits('request.headers[X-Token]', undefined, l7(), ['*']));
  t.false(admits('request.headers[X-Token]', undefined, l7({ headers: { 'x-token': 'x' } }), ['*']));
});

test('values and notValues on one key are ANDed', (t) => {
  const key = 'request.headers[x-env]';
  t.true(admits(key, ['prod-*'], l7({ headers: { 'x-env': 'prod-eu' } }), ['prod-us']));
  t.false(admits(key, ['prod-*'], l7({ headers: { 'x-env': 'prod-us' } }), ['prod-us']));
});

test('source.ip, remote.ip, destination.ip, destination.port', (t) => {
  t.true(admits('source.ip', ['10.1.0.0/16'], l4()));
  t.false(admits('source.ip', ['10.1.0.0/16'], l4({ sourceIp: '10.3.0.1' })));
  t.true(admits('remote.ip', ['203.0.113.0/24'], l7({ remoteIp: '203.0.113.9' })));
  t.true(admits('remote.ip', ['10.1.0.1'], l7()), 'remote.ip defaults to the peer address');
  t.true(admits('destination.ip', ['10.2.0.1'], l4()));
  t.true(admits('destination.port', ['8080'], l4()));
  t.false(admits('destination.port', ['80'], l4()));
});

test('source.namespace and source.principal read the peer identity', (t) => {
  t.true(admits('source.namespace', ['foo'], l4()));
  t.false(admits('source.namespace', ['foo'], plaintext()));
  t.true(admits('source.namespace', undefined, plaintext(), ['foo']));
  t.true(admits('source.principal', ['cluster.local/ns/foo/sa/sleep'], l4()));
  t.true(admits('source.principal', ['*/sa/sleep'], l4()));
  t.false(admits('source.principal', ['*'], plaintext()));
  t.true(admits('source.serviceAccount', ['foo/sleep'], l7()));
  t.true(admits('source.serviceAccount', ['sleep'], l7()));
});

test('connection.sni', (t) => {
  t.true(admits('connection.sni', ['*.example.com'], l7({ sni: 'a.example.com' })));
  t.false(admits('connection.sni', ['*.example.com'], l7()));
});

test('request.auth.principal uses the request principal matching', (t) => {
  const jwt = l7({ claims: { iss: 'https://example.com', sub: 'alice' } });
  t.true(admits('request.auth.principal', ['https://example.com/*'], jwt));
  t.true(admits('request.auth.principal', ['https://example.com/alice'], jwt));
  t.false(admits('request.auth.principal', ['https://example.com/bob'], jwt));
  t.false(admits('request.auth.principal', ['*'], l7()));
});

test('request.auth.audiences and presenter: aud/azp claims, string or list', (t) => {
  t.true(admits('request.auth.audiences', ['api'], l7({ claims: { aud: ['web', 'api'] } })));
  t.true(admits('request.auth.audiences', ['api'], l7({ claims: { aud: 'api' } })));
  t.true(admits('request.auth.audiences', ['a*'], l7({ audiences: ['api'] })));
  t.false(admits('request.auth.audiences', ['api'], l7({ claims: { aud: ['web'] } })));
  t.true(admits('request.auth.presenter', ['client-*'], l7({ claims: { azp: 'client-1' } })));
  t.true(admits('request.auth.presenter', ['client-1'], l7({ presenter: 'client-1' })));
});

test('request.auth.claims[...]: top level, nested, lists; non-strings never match', (t) => {
  const claims = { iss: 'issuer', groups: ['dev', 'ops'], nested1: { nested2: 'deep' }, admin: true, n: 1 };
  t.true(admits('request.auth.claims[iss]', ['issuer'], l7({ claims })));
  t.true(admits('request.auth.claims[groups]', ['ops'], l7({ claims })));
  t.true(admits('request.auth.claims[nested1][nested2]', ['de*'], l7({ claims })));
  t.false(admits('request.auth.claims[nested1][missing]', ['*'], l7({ claims })));
  t.false(admits('request.auth.claims[admin]', ['true'], l7({ claims })));
  t.false(admits('request.auth.claims[n]', ['1'], l7({ claims })));
  t.false(admits('request.auth.claims[constructor]', ['*'], l7({ claims })), 'only own properties are claims');
  t.true(admits('request.auth.claims[groups]', undefined, l7(), ['admins']), 'no JWT: notValues pass');
});

test('experimental.envoy.filters.*: never present in ambit, so values never match and notValues always do', (t) => {
  t.false(admits('experimental.envoy.filters.a.b[c]', ['*'], l7()));
  t.true(admits('experimental.envoy.filters.a.b[c]', undefined, l7(), ['x']));
});

test('conditions in one rule are ANDed', (t) => {
  const rule = {
    when: [
      { key: 'source.namespace', values: ['foo'] },
      { key: 'destination.port', values: ['80'] },
    ],
  };
  t.true(allows(rule, l4({ destinationPort: 80 })));
  t.false(allows(rule, l4()));
});

test("key table: which keys the daemon can evaluate (ztunnel's L4 set)", (t) => {
  for (const key of ['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']) t.true(conditionAttribute(key)!.l4, key);
  for (const key of [
    'remote.ip',
    'connection.sni',
    'source.serviceAccount',
    'request.auth.principal',
    'request.headers[a]',
    'request.auth.claims[a][b]',
    'experimental.envoy.filters.x[y]',
  ]) {
    t.false(conditionAttribute(key)!.l4, key);
  }
  t.is(conditionAttribute('request.headers[a][b]'), undefined);
  t.is(conditionAttribute('request.auth.claims[]'), undefined);
  t.is(conditionAttribute('toString'), undefined);
});

test('a key the config accepts but the engine cannot read fails with EAUTHZ_CONDITION_KEY', (t) => {
  const err = t.throws<AuthzError & { errors: AuthzError[] }>(() => compilePolicies([ap({ rules: [when('request.headers[a][b]', ['x'])] })]));
  t.is(err.errors[0]!.code, 'EAUTHZ_CONDITION_KEY');
  t.regex(err.message, /rules\[0\]\.when\[0\]: unknown condition key/);
});

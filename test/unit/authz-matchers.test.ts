import test from 'ava';
import * as m from '../../core/authz/matchers.js';
import type { MatchEnv } from '../../core/authz/matchers.js';
import { l4, l7, plaintext, view } from './authz-helpers.js';
import type { L4Request, L7Request } from '../../core/authz/index.js';

const env: MatchEnv = { policyNamespace: 'foo', trustDomain: 'cluster.local', trustDomainAliases: [] };
const hit = (matcher: m.AttributeMatcher, values: string[], request: L4Request | L7Request, e = env) => matcher(values, e)(view(request));

test('string forms: exact, prefix*, *suffix, and "*" as any non-empty value', (t) => {
  const s = m.stringSet(['exact', 'pre-*', '*-suf', 'mid*dle']);
  t.true(s('exact'));
  t.false(s('Exact'));
  t.true(s('pre-x'));
  t.true(s('pre-'));
  t.true(s('x-suf'));
  t.true(s('mid*dle'), 'a "*" in the middle is literal');
  t.false(s('middle'));
  t.false(s(undefined));
  const any = m.stringSet(['*']);
  t.true(any('x'));
  t.false(any(''), 'Istio turns "*" into the regex .+');
  t.true(m.stringSet(['*'], { star: 'present' })(''), 'headers: "*" is a presence match');
});

test('principals: exact, prefix, suffix, "*"; plaintext has none', (t) => {
  const r = l4({ sourcePrincipal: 'cluster.local/ns/foo/sa/sleep' });
  t.true(hit(m.principals, ['cluster.local/ns/foo/sa/sleep'], r));
  t.true(hit(m.principals, ['cluster.local/ns/foo/*'], r));
  t.true(hit(m.principals, ['*/sa/sleep'], r));
  t.true(hit(m.principals, ['*'], r));
  t.false(hit(m.principals, ['cluster.local/ns/bar/sa/sleep'], r));
  t.false(hit(m.principals, ['*'], plaintext()));
  t.true(
    hit(m.principals, ['cluster.local/ns/foo/sa/sleep'], l4({ sourcePrincipal: 'spiffe://cluster.local/ns/foo/sa/sleep' })),
    'a spiffe:// prefix on the request is ignored',
  );
});

test('principals: cluster.local and aliases stand for every configured trust domain', (t) => {
  const migrating: MatchEnv = { ...env, trustDomain: 'new.example', trustDomainAliases: ['old.example'] };
  const fromNew = l4({ sourcePrincipal: 'new.example/ns/foo/sa/sleep' });
  const fromOld = l4({ sourcePrincipal: 'old.example/ns/foo/sa/sleep' });
  t.true(hit(m.principals, ['cluster.local/ns/foo/sa/sleep'], fromNew, migrating));
  t.true(hit(m.principals, ['old.example/ns/foo/sa/sleep'], fromNew, migrating));
  t.true(hit(m.principals, ['new.example/ns/foo/sa/sleep'], fromOld, migrating));
  t.false(hit(m.principals, ['other.example/ns/foo/sa/sleep'], fromNew, migrating));
  t.false(hit(m.principals, ['cluster.local/ns/foo/sa/sleep'], l4({ sourcePrincipal: 'other.example/ns/foo/sa/sleep' }), migrating));
});

test('namespaces come from the verified principal', (t) => {
  t.true(hit(m.namespaces, ['foo'], l4()));
  t.true(hit(m.namespaces, ['f*'], l4()));
  t.true(hit(m.namespaces, ['*'], l4()));
  t.false(hit(m.namespaces, ['bar'], l4()));
  t.false(hit(m.namespaces, ['*'], plaintext({ sourceNamespace: 'foo' })), 'plaintext has no namespace, whatever the caller says');
  t.false(hit(m.namespaces, ['bar'], l4({ sourceNamespace: 'bar' })), 'the principal wins over sourceNamespace');
  t.true(hit(m.namespaces, ['bar'], l4({ sourcePrincipal: 'opaque-id', sourceNamespace: 'bar' })));
});

test('serviceAccounts: ns/sa, or sa in the policy namespace; exact', (t) => {
  t.true(hit(m.serviceAccounts, ['foo/sleep'], l4()));
  t.true(hit(m.serviceAccounts, ['sleep'], l4()));
  t.false(hit(m.serviceAccounts, ['sleep'], l4({ sourcePrincipal: 'cluster.local/ns/bar/sa/sleep' })));
  t.false(hit(m.serviceAccounts, ['foo/sleep'], l4({ sourcePrincipal: 'cluster.local/ns/foo/sa/sleeper' })));
  t.false(hit(m.serviceAccounts, ['foo/sleep'], plaintext()));
});

test('ipBlocks: single IPs and CIDRs, v4 and v6, v4-mapped v6 compares as v4', (t) => {
  t.true(hit(m.sourceIps, ['10.1.0.1'], l4()));
  t.true(hit(m.sourceIps, ['10.0.0.0/8'], l4()));
  t.false(hit(m.sourceIps, ['10.1.0.2', '192.168.0.0/16'], l4()));
  t.true(hit(m.sourceIps, ['10.0.0.0/8'], l4({ sourceIp: '::ffff:10.9.9.9' })));
  t.true(hit(m.sourceIps, ['fd00::/64'], l4({ sourceIp: 'fd00::1:2' })));
  t.true(hit(m.sourceIps, ['fd00::1'], l4({ sourceIp: 'fd00:0::1' })));
  t.false(hit(m.sourceIps, ['fd00::/64'], l4({ sourceIp: 'fd00:0:0:1::1' })));
  t.false(hit(m.sourceIps, ['0.0.0.0/0'], l4({ sourceIp: 'fd00::1' })), 'an IPv4 range never holds an IPv6 address');
  t.false(hit(m.sourceIps, ['0.0.0.0/0'], l4({ sourceIp: 'not-an-ip' })));
  t.true(hit(m.destinationIps, ['10.2.0.0/16'], l4()));
});

test('ipBlocks: IPv4-mapped forms on either side, and the whole-space ranges', (t) => {
  t.true(hit(m.sourceIps, ['::ffff:10.0.0.0/104'], l4({ sourceIp: '10.200.0.1' })));
  t.false(hit(m.sourceIps, ['::ffff:10.0.0.0/104'], l4({ sourceIp: '11.0.0.1' })));
  t.true(hit(m.sourceIps, ['10.1.2.3'], l4({ sourceIp: '::ffff:a01:203' })), 'hex-written mapped address');
  t.true(hit(m.sourceIps, ['0.0.0.0/0'], l4({ sourceIp: '255.255.255.255' })));
  t.true(hit(m.sourceIps, ['::/0'], l4({ sourceIp: '2001:db8::1' })));
  t.true(hit(m.sourceIps, ['128.0.0.0/1'], l4({ sourceIp: '200.1.1.1' })), 'high addresses stay unsigned');
  t.false(hit(m.sourceIps, ['128.0.0.0/1'], l4({ sourceIp: '127.255.255.255' })));
});

test('remoteIpBlocks: the original client address, defaulting to the peer address', (t) => {
  t.true(hit(m.remoteIps, ['10.1.0.1'], l7()));
  t.true(hit(m.remoteIps, ['203.0.113.0/24'], l7({ remoteIp: '203.0.113.7' })));
  t.false(hit(m.remoteIps, ['10.1.0.1'], l7({ remoteIp: '203.0.113.7' })));
});

test('ports: the destination port', (t) => {
  t.true(hit(m.ports, ['80', '8080'], l4()));
  t.false(hit(m.ports, ['80'], l4()));
});

test('hosts: case-insensitive over the whole Host, port included', (t) => {
  t.true(hit(m.hosts, ['httpbin.foo'], l7({ host: 'HTTPBin.Foo' })));
  t.true(hit(m.hosts, ['HTTPBIN.FOO'], l7()));
  t.false(hit(m.hosts, ['httpbin.foo'], l7({ host: 'httpbin.foo:8000' })), 'Istio: exact hosts do not match with a port');
  t.true(hit(m.hosts, ['httpbin.foo:*'], l7({ host: 'httpbin.foo:8000' })));
  t.true(hit(m.hosts, ['*.foo'], l7()));
  t.true(hit(m.hosts, ['*'], l7({ host: '' })));
  t.false(hit(m.hosts, ['*'], l4()), 'no Host at L4');
});

test('methods: case-sensitive exact, with the usual wildcards', (t) => {
  t.true(hit(m.methods, ['GET', 'POST'], l7()));
  t.false(hit(m.methods, ['get'], l7()));
  t.true(hit(m.methods, ['G*'], l7()));
});

test('requestPrincipals: iss/sub split at the last "/", wildcards per part', (t) => {
  const jwt = (iss: string, sub: string) => l7({ claims: { iss, sub } });
  const r = jwt('https://accounts.example.com/o', 'alice');
  t.true(hit(m.requestPrincipals, ['https://accounts.example.com/o/alice'], r));
  t.true(hit(m.requestPrincipals, ['*'], r));
  t.true(hit(m.requestPrincipals, ['https://accounts.example.com/o/*'], r));
  t.true(hit(m.requestPrincipals, ['*/alice'], r));
  t.true(hit(m.requestPrincipals, ['*example.com/o/alice'], r));
  t.true(hit(m.requestPrincipals, ['https://accounts.example.com/o/al*'], r));
  t.true(hit(m.requestPrincipals, ['*ice'], r), 'no "/": suffix of the subject, any issuer');
  t.true(hit(m.requestPrincipals, ['https:*'], r), 'no "/": prefix of the issuer, any subject');
  t.false(hit(m.requestPrincipals, ['https://accounts.example.com/o/bob'], r));
  t.false(hit(m.requestPrincipals, ['*'], l7()), 'no JWT');
  t.true(hit(m.requestPrincipals, ['iss.example/alice'], l7({ requestPrincipal: 'iss.example/alice' })), 'from requestPrincipal when no claims');
});

test('connection.sni', (t) => {
  t.true(hit(m.sni, ['*.example.com'], l4({ sni: 'api.example.com' })));
  t.false(hit(m.sni, ['*'], l4()));
});

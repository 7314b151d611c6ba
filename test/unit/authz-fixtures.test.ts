import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { compilePolicies, evaluate, type L4Request, type L7Request, type PolicySet, type WorkloadInfo } from '../../core/authz/index.js';
import { parseDocuments } from '../../core/config/index.js';
import { HTTPBIN, l4, l7, plaintext } from './authz-helpers.js';

// Istio's own authz samples, unmodified (DESIGN.md: the compatibility target).
const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures/istio/authz');

const load = (name: string): PolicySet => compilePolicies(parseDocuments(readFileSync(path.join(FIXTURES, name), 'utf8'), name));

function decideWith(name: string, request: L4Request | L7Request, workload: WorkloadInfo = HTTPBIN) {
  return evaluate(load(name).forWorkload(workload), request);
}

if (!existsSync(FIXTURES)) {
  test.skip('authz fixtures: ../shared/fixtures/istio/authz is absent', (t) => {
    t.log(`SKIPPED: ${FIXTURES} not found; run from a checkout next to ../shared`);
  });
} else {
  for (const name of readdirSync(FIXTURES)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()) {
    test(`${name} compiles`, (t) => {
      const set = load(name);
      t.true(set.policies.length > 0);
    });
  }

  test('allow-empty-rule: rules [{}] admits everything, plaintext and L7 alike', (t) => {
    t.true(decideWith('allow-empty-rule.yaml', plaintext()).allowed);
    t.true(decideWith('allow-empty-rule.yaml', l7({ method: 'DELETE', path: '/admin' })).allowed);
    t.is(decideWith('allow-empty-rule.yaml', l4()).policy, 'foo/allow-all');
  });

  test('allow-empty-rule: a workload the selector misses has no policy', (t) => {
    const d = decideWith('allow-empty-rule.yaml', l4(), { namespace: 'foo', labels: { app: 'httpbin', version: 'v2' } });
    t.deepEqual(d, { allowed: true, reason: 'no authorization policy applies', audit: false });
  });

  test('allow-full-rule: the serviceAccounts rule is enforced at L4, the HTTP rule is omitted', (t) => {
    const set = load('allow-full-rule.yaml');
    const [policy] = set.policies;
    t.deepEqual(policy!.rules[0]!.l7Attributes, []);
    t.true(policy!.rules[1]!.l7Attributes.includes('requestPrincipals'));
    t.true(policy!.rules[1]!.l7Attributes.includes('experimental.envoy.filters.a.b[c]'));
    t.is(policy!.rules[1]!.matchL4, undefined);
    t.true(policy!.warnings.some((w) => w.includes('experimental.envoy.filters')));
    const wp = set.forWorkload(HTTPBIN);
    t.true(evaluate(wp, l4({ sourcePrincipal: 'cluster.local/ns/my-ns/sa/my-sa' })).allowed);
    t.true(evaluate(wp, l4({ sourcePrincipal: 'cluster.local/ns/foo/sa/sa-only' })).allowed, 'bare sa resolves in the policy namespace');
    t.false(evaluate(wp, l4({ sourcePrincipal: 'cluster.local/ns/other/sa/sa-only' })).allowed);
    t.false(evaluate(wp, plaintext()).allowed);
    t.true(evaluate(wp, l4()).needsWaypoint);
  });

  test('allow-full-rule: rule 1 contradicts itself (principals "*" and notPrincipals "*"), so only rule 0 admits at L7', (t) => {
    const d = decideWith('allow-full-rule.yaml', l7({ sourcePrincipal: 'cluster.local/ns/my-ns/sa/my-sa', method: 'method', path: '/exact' }));
    t.is(d.rule, 0);
    t.false(decideWith('allow-full-rule.yaml', l7({ sourcePrincipal: 'cluster.local/ns/ns/sa/principal', method: 'method' })).allowed);
  });

  test('allow-path: paths and notPaths both hold "*", so nothing is ever admitted', (t) => {
    for (const p of ['/exact', '/prefix/a', '/a/suffix', '/path/template/x', '/a/b/path/template']) {
      t.false(decideWith('allow-path.yaml', l7({ path: p })).allowed, p);
    }
    t.false(decideWith('allow-path.yaml', l4()).allowed);
  });

  test('deny-and-allow: DENY wins over ALLOW; ALLOW admits only its principal', (t) => {
    const ns = { namespace: 'foo', labels: {} };
    t.is(decideWith('deny-and-allow.yaml', l4({ sourcePrincipal: 'deny' }), ns).reason, 'denied by DENY policy foo/httpbin-deny rule 0');
    t.is(decideWith('deny-and-allow.yaml', l4({ sourcePrincipal: 'allow' }), ns).policy, 'foo/httpbin-allow');
    t.false(decideWith('deny-and-allow.yaml', l4(), ns).allowed);
    t.false(decideWith('deny-and-allow.yaml', plaintext(), ns).allowed);
  });

  test('deny-empty-rule: denies every connection and request to the selected workload only', (t) => {
    t.false(decideWith('deny-empty-rule.yaml', l4()).allowed);
    t.false(decideWith('deny-empty-rule.yaml', l7()).allowed);
    t.true(decideWith('deny-empty-rule.yaml', l4(), { namespace: 'foo', labels: { app: 'other' } }).allowed);
  });

  test('dry-run-allow: not enforced; the shadow decision says what it would do', (t) => {
    const hit = decideWith('dry-run-allow.yaml', l7({ path: '/exact' }));
    t.true(hit.allowed);
    t.is(hit.reason, 'no authorization policy applies');
    t.deepEqual(hit.dryRun, { allowed: true, reason: 'allowed by ALLOW policy foo/httpbin-1 rule 0', policy: 'foo/httpbin-1', rule: 0 });
    const miss = decideWith('dry-run-allow.yaml', l7({ path: '/other' }));
    t.true(miss.allowed);
    t.false(miss.dryRun!.allowed);
    const tcp = decideWith('dry-run-allow.yaml', l4());
    t.true(tcp.allowed);
    t.false(tcp.dryRun!.allowed, 'at L4 the HTTP rule is omitted, so it would deny');
    t.is(tcp.needsWaypoint, undefined, 'dry-run policies do not ask for a waypoint');
  });

  test('multiple-policies: any one of nine ALLOW policies admits', (t) => {
    const set = load('multiple-policies.yaml');
    const wp = set.forWorkload(HTTPBIN);
    t.is(wp.allow.length, 9);
    const none = { method: 'DELETE', path: '/zzz', host: 'x.org', sourceIp: '9.9.9.9' };
    const by = (over: Partial<L7Request>) => evaluate(wp, l7({ ...none, ...over })).policy;
    t.false(evaluate(wp, l7(none)).allowed);
    t.is(by({ method: 'GET' }), 'foo/httpbin-1');
    t.is(by({ path: '/v2' }), 'foo/httpbin-2');
    t.is(by({ host: 'HTTPBIN.org' }), 'foo/httpbin-3');
    t.is(by({ destinationPort: 90 }), 'foo/httpbin-4');
    t.is(by({ sourcePrincipal: 'principals2' }), 'foo/httpbin-5');
    t.is(by({ claims: { iss: 'requestPrincipals1', sub: '' } }), 'foo/httpbin-6');
    t.is(by({ sourcePrincipal: 'cluster.local/ns/namespaces1/sa/x' }), 'foo/httpbin-7');
    t.is(by({ sourceIp: '5.6.7.200' }), 'foo/httpbin-8');
    t.is(by({ headers: { 'x-abc': 'abc2' } }), 'foo/httpbin-9');
  });

  test('multiple-policies: selectors narrow what applies; at L4 only the L4 policies can admit', (t) => {
    const set = load('multiple-policies.yaml');
    t.is(set.forWorkload({ namespace: 'foo', labels: { app: 'httpbin', version: 'v2' } }).allow.length, 7);
    t.is(set.forWorkload({ namespace: 'foo', labels: { version: 'v1' } }).allow.length, 7);
    const wp = set.forWorkload({ namespace: 'foo', labels: {} });
    t.is(wp.allow.length, 6);
    t.is(evaluate(wp, l4({ destinationPort: 80 })).policy, 'foo/httpbin-4');
    t.is(evaluate(wp, l4({ sourceIp: '1.2.3.4' })).policy, 'foo/httpbin-8');
    const d = evaluate(wp, l4({ sourceIp: '9.9.9.9' }));
    t.false(d.allowed);
    t.true(d.needsWaypoint);
    t.deepEqual(wp.l7Policies, ['foo/httpbin-6', 'foo/httpbin-9']);
  });

  test('principal-with-wildcard: "*" admits any mTLS peer and no plaintext', (t) => {
    const name = 'simple-policy-principal-with-wildcard.yaml';
    t.true(decideWith(name, l4({ sourcePrincipal: 'example.org/ns/x/sa/y' })).allowed);
    t.false(decideWith(name, plaintext()).allowed);
    t.false(decideWith(name, l7({ sourcePrincipal: undefined })).allowed);
  });

  test('single-policy: rule 1 admits its exact request; one field off and it does not', (t) => {
    const base: Partial<L7Request> = {
      sourcePrincipal: 'rule[1]-from[0]-principal[1]',
      sourceNamespace: 'rule[1]-from[0]-ns[2]',
      claims: { iss: 'rule[1]-from[0]-requestPrincipal[2]', sub: '' },
      sourceIp: '10.1.0.2',
      remoteIp: '172.22.3.9',
      method: 'rule[1]-to[1]-method[1]',
      host: 'RULE[1]-TO[1]-HOST[2]',
      destinationPort: 9112,
      path: 'rule[1]-to[1]-path[1]',
    };
    t.deepEqual(decideWith('single-policy.yaml', l7(base)).rule, 1);
    const off: Partial<L7Request>[] = [
      { destinationPort: 9102 },
      { sourceIp: '10.1.1.1' },
      { remoteIp: '172.22.4.1' },
      { method: 'GET' },
      { path: 'rule[1]-to[1]-path[1]x' },
      { claims: { iss: 'rule[1]-from[0]-requestPrincipal[2]', sub: 'x' } },
      { sourcePrincipal: 'rule[1]-from[1]-principal[1]' },
    ];
    for (const o of off) t.false(decideWith('single-policy.yaml', l7({ ...base, ...o })).allowed, JSON.stringify(o));
  });

  test('single-policy: rule 0 can never match (its remote.ip condition contradicts its remoteIpBlocks)', (t) => {
    const request = l7({
      sourcePrincipal: 'rule[0]-from[0]-principal[1]',
      sourceNamespace: 'rule[0]-from[0]-ns[1]',
      claims: { iss: 'rule[0]-from[0]-requestPrincipal[1]', sub: '' },
      sourceIp: '10.0.0.1',
      remoteIp: '172.16.10.10',
      method: 'rule[0]-to[0]-method[1]',
      host: 'rule[0]-to[0]-host[1]',
      destinationPort: 9001,
      destinationIp: '10.10.10.10',
      path: 'rule[0]-to[0]-path[1]',
      headers: { 'x-header': 'header' },
    });
    t.false(decideWith('single-policy.yaml', request).allowed);
    t.false(decideWith('single-policy.yaml', { ...request, remoteIp: '10.99.10.8' }).allowed);
  });

  test('tcp-allow-only-http: at L4 every rule needs HTTP, so every connection is denied', (t) => {
    const ns = { namespace: 'foo', labels: {} };
    const d = decideWith('tcp-allow-only-http.yaml', l4({ sourcePrincipal: 'cluster.local/ns/ns-1/sa/a' }), ns);
    t.false(d.allowed);
    t.true(d.needsWaypoint);
    t.is(d.reason, 'no ALLOW policy matched (foo/httpbin-deny)');
    t.is(decideWith('tcp-allow-only-http.yaml', l7({ sourcePrincipal: 'cluster.local/ns/ns-1/sa/a', host: 'example.com' }), ns).rule, 1);
    t.is(decideWith('tcp-allow-only-http.yaml', l7({ claims: { iss: 'id-1', sub: '' } }), ns).rule, 0);
  });

  test('tcp-allow-both-http-tcp: at L4 only the pure-TCP rule admits', (t) => {
    const ns = { namespace: 'foo', labels: {} };
    const from = (n: string) => `cluster.local/ns/${n}/sa/a`;
    t.is(decideWith('tcp-allow-both-http-tcp.yaml', l4({ sourcePrincipal: from('ns-1'), destinationPort: 80 }), ns).rule, 3);
    t.false(decideWith('tcp-allow-both-http-tcp.yaml', l4({ sourcePrincipal: from('ns-1'), destinationPort: 8080 }), ns).allowed);
    t.false(decideWith('tcp-allow-both-http-tcp.yaml', l4({ sourcePrincipal: from('ns-2'), destinationPort: 9090 }), ns).allowed);
    t.is(decideWith('tcp-allow-both-http-tcp.yaml', l7({ sourcePrincipal: from('ns-1'), destinationPort: 8080 }), ns).rule, 1);
    t.is(
      decideWith('tcp-allow-both-http-tcp.yaml', l7({ sourcePrincipal: from('ns-2'), destinationPort: 9090, requestPrincipal: 'id-2' }), ns).allowed,
      false,
      'requestPrincipal "id-2" has no "/": Istio wants iss "id-2" and an empty sub claim',
    );
    t.is(
      decideWith('tcp-allow-both-http-tcp.yaml', l7({ sourcePrincipal: from('ns-2'), destinationPort: 9090, claims: { iss: 'id-2', sub: '' } }), ns).rule,
      2,
    );
  });
}

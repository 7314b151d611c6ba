import test from 'ava';
import { compilePolicies, evaluate } from '../../core/authz/index.js';
import { HTTPBIN, allows, ap, decide, l4, l7, plaintext } from './authz-helpers.js';

const deny = (rules: object[], name = 'deny') => ap({ action: 'DENY', rules }, { name });
const allow = (rules: object[], name = 'allow') => ap({ action: 'ALLOW', rules }, { name });
const audit = (rules: object[], name = 'audit') => ap({ action: 'AUDIT', rules }, { name });
const from = (source: object) => ({ from: [{ source }] });
const to = (operation: object) => ({ to: [{ operation }] });

test('no policy: allowed', (t) => {
  t.deepEqual(decide([], l4()), { allowed: true, reason: 'no authorization policy applies', audit: false });
});

test('DENY is checked before ALLOW and wins', (t) => {
  const d = decide([allow([{}]), deny([from({ namespaces: ['foo'] })])], l4());
  t.false(d.allowed);
  t.is(d.policy, 'foo/deny');
  t.true(decide([allow([{}]), deny([from({ namespaces: ['bar'] })])], l4()).allowed);
});

test('only DENY policies: what they do not match is allowed', (t) => {
  const d = decide(deny([from({ namespaces: ['bar'] })]), l4());
  t.deepEqual(d, { allowed: true, reason: 'no DENY policy matched and no ALLOW policy applies', audit: false });
});

test('allow-nothing: an ALLOW policy with no rules denies everything', (t) => {
  t.false(decide(ap({}), l4()).allowed);
  t.false(decide(ap({}), l7()).allowed);
  t.is(decide(ap({}), l4()).reason, 'no ALLOW policy matched (foo/p)');
});

test('a DENY policy with no rules denies nothing', (t) => {
  t.true(decide(ap({ action: 'DENY' }), l4()).allowed);
});

test('rules [{}] match everything', (t) => {
  t.true(decide(allow([{}]), plaintext()).allowed);
  t.false(decide(deny([{}]), plaintext()).allowed);
});

test('rules are ORed', (t) => {
  const p = allow([from({ namespaces: ['bar'] }), to({ ports: ['8080'] })]);
  const d = decide(p, l4());
  t.is(d.rule, 1);
});

test('from entries are ORed, fields within a source ANDed', (t) => {
  const rule = { from: [{ source: { namespaces: ['bar'] } }, { source: { namespaces: ['foo'], ipBlocks: ['10.1.0.0/16'] } }] };
  t.true(allows(rule, l4()));
  t.false(allows(rule, l4({ sourceIp: '10.9.0.1' })));
});

test('from, to and when are ANDed', (t) => {
  const rule = { ...from({ namespaces: ['foo'] }), ...to({ ports: ['8080'] }), when: [{ key: 'source.ip', values: ['10.1.0.1'] }] };
  t.true(allows(rule, l4()));
  t.false(allows(rule, l4({ destinationPort: 80 })));
  t.false(allows(rule, l4({ sourcePrincipal: 'cluster.local/ns/bar/sa/x' })));
  t.false(allows(rule, l4({ sourceIp: '10.1.0.2' })));
});

test('not* fields negate, and combine with their positive field', (t) => {
  t.true(allows(from({ notNamespaces: ['bar'] }), l4()));
  t.false(allows(from({ notNamespaces: ['foo'] }), l4()));
  t.true(allows(from({ notPrincipals: ['*'] }), plaintext()), 'notPrincipals "*" = plaintext only');
  t.false(allows(from({ notPrincipals: ['*'] }), l4()));
  t.true(allows(from({ ipBlocks: ['10.0.0.0/8'], notIpBlocks: ['10.9.0.0/16'] }), l4()));
  t.false(allows(from({ ipBlocks: ['10.0.0.0/8'], notIpBlocks: ['10.1.0.0/16'] }), l4()));
  t.true(allows(to({ notPorts: ['80'] }), l4()));
  t.false(allows(to({ notMethods: ['GET'] }), l7()));
  t.true(allows(to({ notHosts: ['*.internal'] }), l7()));
  t.false(allows(to({ notPaths: ['/admin*'] }), l7({ path: '/admin/x' })));
  t.true(allows(from({ notRequestPrincipals: ['*'] }), l7()), 'no JWT');
  t.false(allows(from({ notRemoteIpBlocks: ['10.1.0.1'] }), l7()));
  t.false(allows(from({ notServiceAccounts: ['foo/sleep'] }), l4()));
});

test('AUDIT marks the request, never changes the decision', (t) => {
  const d = decide([audit([to({ ports: ['8080'] })]), deny([{}])], l4());
  t.false(d.allowed);
  t.true(d.audit);
  t.is(d.auditPolicy, 'foo/audit');
  const miss = decide(audit([to({ ports: ['80'] })]), l4());
  t.deepEqual(miss, { allowed: true, reason: 'no authorization policy applies', audit: false });
  t.true(decide(audit([{}]), l7()).allowed);
});

test('dry-run DENY: enforced decision unchanged, shadow says it would deny', (t) => {
  const dry = ap({ action: 'DENY', rules: [{}] }, { name: 'dry', annotations: { 'istio.io/dry-run': 'true' } });
  const d = decide([dry, allow([{}])], l4());
  t.true(d.allowed);
  t.is(d.policy, 'foo/allow');
  t.deepEqual(d.dryRun, { allowed: false, reason: 'denied by DENY policy foo/dry rule 0', policy: 'foo/dry', rule: 0 });
});

test('dry-run "false" is enforced', (t) => {
  const p = ap({ action: 'DENY', rules: [{}] }, { annotations: { 'istio.io/dry-run': 'false' } });
  const d = decide(p, l4());
  t.false(d.allowed);
  t.is(d.dryRun, undefined);
});

// L4 (the daemon) follows ztunnel: see core/authz/compile.ts for the sources.

test('L4 ALLOW: a rule with any HTTP attribute never matches; the daemon is told it needs a waypoint', (t) => {
  const p = allow([{ ...from({ namespaces: ['foo'] }), ...to({ methods: ['GET'] }) }]);
  const d = decide(p, l4());
  t.false(d.allowed);
  t.true(d.needsWaypoint);
  t.true(decide(p, l7()).allowed);
  t.is(decide(p, l7()).needsWaypoint, undefined);
});

test('L4 DENY with L4 and HTTP fields: enforced on the L4 part (stricter than written)', (t) => {
  const p = deny([{ ...from({ namespaces: ['foo'] }), ...to({ ports: ['8080'], methods: ['POST'] }) }]);
  t.false(decide(p, l4()).allowed, 'every connection from foo to 8080 is denied, POST or not');
  t.true(decide(p, l4({ destinationPort: 80 })).allowed);
  t.true(decide(p, l7({ method: 'GET' })).allowed, 'the waypoint enforces it as written');
  t.false(decide(p, l7({ method: 'POST' })).allowed);
});

test('L4 DENY of HTTP attributes only is a no-op, as in ztunnel (istio/istio#61126)', (t) => {
  const requireJwt = deny([from({ notRequestPrincipals: ['*'] })]);
  const d = decide(requireJwt, l4());
  t.true(d.allowed);
  t.true(d.needsWaypoint);
  t.false(decide(requireJwt, l7()).allowed);
  t.true(decide(deny([to({ methods: ['POST'] })]), l4()).allowed);
});

test('L4 DENY: a from entry reduced to nothing drops out, its siblings still match', (t) => {
  const p = deny([{ from: [{ source: { requestPrincipals: ['*'] } }, { source: { namespaces: ['foo'], remoteIpBlocks: ['1.2.3.4'] } }] }]);
  t.false(decide(p, l4()).allowed, 'second source matches on namespaces alone');
  t.true(decide(p, l4({ sourcePrincipal: 'cluster.local/ns/bar/sa/x' })).allowed);
});

test('L4 DENY: a when on an HTTP key keeps the rule from matching at all', (t) => {
  const p = deny([{ ...from({ namespaces: ['foo'] }), when: [{ key: 'request.headers[x-bad]', values: ['1'] }] }]);
  t.true(decide(p, l4()).allowed);
  t.false(decide(p, l7({ headers: { 'x-bad': '1' } })).allowed);
});

test('L4 DENY: L4 when keys are enforced', (t) => {
  const p = deny([
    {
      when: [
        { key: 'destination.port', values: ['8080'] },
        { key: 'source.namespace', notValues: ['foo'] },
      ],
    },
  ]);
  t.false(decide(p, plaintext()).allowed);
  t.true(decide(p, l4()).allowed);
});

test('L4 treats remoteIpBlocks and connection.sni as HTTP attributes, as ztunnel does', (t) => {
  t.false(decide(allow([from({ remoteIpBlocks: ['10.1.0.1'] })]), l4()).allowed);
  t.false(decide(allow([{ when: [{ key: 'connection.sni', values: ['*'] }] }]), l4({ sni: 'a' })).allowed);
});

test('L4 AUDIT: reduced like DENY', (t) => {
  const d = decide(audit([{ ...from({ namespaces: ['foo'] }), ...to({ ports: ['8080'], paths: ['/x'] }) }]), l4());
  t.true(d.allowed);
  t.true(d.audit, 'audited on the L4 remainder');
  t.false(decide(audit([{ ...from({ namespaces: ['foo'] }), ...to({ paths: ['/x'] }) }]), l4()).audit, 'an operation of paths only has no L4 remainder');
});

test('evaluate at the waypoint: an L4 request through it is reduced too, without needsWaypoint', (t) => {
  const set = compilePolicies([ap({ targetRefs: [{ kind: 'Service', name: 'httpbin' }], rules: [to({ methods: ['GET'] })] })]);
  const wp = set.forWorkload({ namespace: 'foo', serviceName: 'httpbin', atWaypoint: true });
  const d = evaluate(wp, l4());
  t.false(d.allowed);
  t.is(d.needsWaypoint, undefined);
  t.true(evaluate(wp, l7()).allowed);
  t.true(evaluate(set.forWorkload(HTTPBIN), l4()).allowed, 'the daemon does not see targetRef policies');
});

test('compiled policies keep no per-request state between evaluations', (t) => {
  const set = compilePolicies([allow([{ ...from({ namespaces: ['foo'] }), ...to({ paths: ['/api/{*}'] }) }])]);
  const wp = set.forWorkload(HTTPBIN);
  let admitted = 0;
  for (let i = 0; i < 1000; i++) {
    if (evaluate(wp, l7({ path: `/api/${i}` })).allowed) admitted++;
    if (evaluate(wp, l7({ path: `/api/${i}/x` })).allowed) admitted += 1000;
  }
  t.is(admitted, 1000);
});

import test from 'ava';
import { AuthzError, AuthzErrors, compilePolicies, compilePolicy, authorizationPolicyProblem, type WorkloadInfo } from '../../core/authz/index.js';
import { ap } from './authz-helpers.js';

const ALL = { rules: [{}] };
const keys = (wp: { allow: readonly { key: string }[] }) => wp.allow.map((p) => p.key);

const set = compilePolicies([
  ap(ALL, { name: 'mesh', namespace: 'istio-system' }),
  ap({ ...ALL, selector: { matchLabels: { app: 'web' } } }, { name: 'mesh-web', namespace: 'istio-system' }),
  ap(ALL, { name: 'ns', namespace: 'foo' }),
  ap({ ...ALL, selector: { matchLabels: { app: 'httpbin', version: 'v1' } } }, { name: 'sel', namespace: 'foo' }),
  ap({ ...ALL, targetRefs: [{ kind: 'Service', group: '', name: 'httpbin' }] }, { name: 'svc', namespace: 'foo' }),
  ap({ ...ALL, targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' } }, { name: 'gw', namespace: 'foo' }),
  ap(ALL, { name: 'other', namespace: 'bar' }),
]);

const select = (w: WorkloadInfo) => keys(set.forWorkload(w));

test('root namespace policies bind the whole mesh; namespace policies their namespace', (t) => {
  t.deepEqual(select({ namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } }), ['istio-system/mesh', 'foo/ns', 'foo/sel']);
  t.deepEqual(select({ namespace: 'baz', labels: {} }), ['istio-system/mesh']);
  t.deepEqual(select({ namespace: 'bar', labels: {} }), ['istio-system/mesh', 'bar/other']);
});

test('matchLabels must be a subset of the workload labels', (t) => {
  t.deepEqual(select({ namespace: 'foo', labels: { app: 'httpbin' } }), ['istio-system/mesh', 'foo/ns']);
  t.deepEqual(select({ namespace: 'foo', labels: { app: 'httpbin', version: 'v1', extra: 'x' } }), ['istio-system/mesh', 'foo/ns', 'foo/sel']);
  t.deepEqual(select({ namespace: 'foo' }), ['istio-system/mesh', 'foo/ns']);
});

test('a selector in the root namespace selects across namespaces', (t) => {
  t.deepEqual(select({ namespace: 'baz', labels: { app: 'web' } }), ['istio-system/mesh', 'istio-system/mesh-web']);
});

test('targetRefs bind only the waypoint of that service (or that waypoint), never the daemon', (t) => {
  t.deepEqual(select({ namespace: 'foo', serviceName: 'httpbin', atWaypoint: true }), ['foo/svc']);
  t.deepEqual(select({ namespace: 'foo', serviceName: 'other', waypointName: 'waypoint', atWaypoint: true }), ['foo/gw']);
  t.deepEqual(select({ namespace: 'bar', serviceName: 'httpbin', atWaypoint: true }), []);
  t.false(select({ namespace: 'foo', labels: { app: 'httpbin' }, serviceName: 'httpbin' }).includes('foo/svc'));
});

test('the root namespace is configurable', (t) => {
  const custom = compilePolicies([ap(ALL, { name: 'mesh', namespace: 'mesh-root' }), ap(ALL, { name: 'sys', namespace: 'istio-system' })], {
    rootNamespace: 'mesh-root',
  });
  t.deepEqual(keys(custom.forWorkload({ namespace: 'foo' })), ['mesh-root/mesh']);
  t.deepEqual(keys(custom.forWorkload({ namespace: 'istio-system' })), ['mesh-root/mesh', 'istio-system/sys']);
  t.deepEqual(custom.policies.find((p) => p.name === 'mesh')!.scope, { kind: 'mesh' });
});

test('policies group by action; dry-run ones apart; a workload in the root namespace gets each once', (t) => {
  const s = compilePolicies([
    ap({ action: 'DENY', rules: [{}] }, { name: 'd', namespace: 'istio-system' }),
    ap({ action: 'AUDIT', rules: [{}] }, { name: 'a', namespace: 'istio-system' }),
    ap(ALL, { name: 'dry', namespace: 'istio-system', annotations: { 'istio.io/dry-run': 'true' } }),
  ]);
  const wp = s.forWorkload({ namespace: 'istio-system' });
  t.deepEqual([wp.deny.length, wp.allow.length, wp.audit.length, wp.dryRun.length], [1, 0, 1, 1]);
});

test('unsupported or cross-namespace targetRefs bind nothing and say so', (t) => {
  const p = compilePolicy(
    ap({
      ...ALL,
      targetRefs: [
        { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' },
        { kind: 'Service', name: 'x', namespace: 'bar' },
      ],
    }),
  );
  t.deepEqual(p.scope, { kind: 'targets', targets: [] });
  t.is(p.warnings.length, 2);
  t.regex(p.warnings[0]!, /GatewayClass istio-waypoint is not supported/);
  t.regex(p.warnings[1]!, /another namespace/);
});

test('other kinds in a snapshot are skipped; a non-policy given alone is refused', (t) => {
  const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'foo' }, spec: { hosts: ['x'] } };
  t.is(compilePolicies([vs, ap(ALL)]).policies.length, 1);
  t.throws(() => compilePolicy(vs), { instanceOf: AuthzError, code: 'EAUTHZ_NOT_A_POLICY' });
});

test('every invalid policy is reported at once', (t) => {
  const err = t.throws<AuthzErrors>(() =>
    compilePolicies([
      ap({ action: 'CUSTOM', rules: [{}] }, { name: 'custom' }),
      ap(ALL, { name: 'dry', annotations: { 'istio.io/dry-run': 'yes' } }),
      ap(ALL, { name: 'fine' }),
    ]),
  );
  t.true(err instanceof AuthzErrors);
  t.deepEqual(
    err.errors.map((e) => e.code),
    ['EAUTHZ_INVALID_SPEC', 'EAUTHZ_DRY_RUN_ANNOTATION'],
  );
  t.regex(err.message, /2 invalid AuthorizationPolicies/);
  t.regex(err.message, /foo\/custom/);
});

test('authorizationPolicyProblem lets apply refuse a policy before it is stored', (t) => {
  t.is(authorizationPolicyProblem(ap(ALL)), undefined);
  t.is(authorizationPolicyProblem(ap({ rules: [{ to: [{ operation: { paths: ['/{**}/{*}'] } }] }] }))!.code, 'EAUTHZ_PATH_TEMPLATE');
});

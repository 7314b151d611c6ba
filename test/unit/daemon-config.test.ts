/** ambitd.yaml: defaults, overrides, and file:line errors for bad settings. */
import test from 'ava';
import { hostname } from 'node:os';
import { ConfigErrors } from '../../core/errors.js';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';

const FILE = '/etc/ambit/ambitd.yaml';

function errorOf(t: import('ava').ExecutionContext, text: string): { message: string; line: number | undefined; field: string | undefined } {
  const err = t.throws(() => parseDaemonConfig(text, FILE), { instanceOf: ConfigErrors });
  const [first] = err.errors;
  return { message: first!.message, line: first!.location?.line, field: first!.field };
}

test('an empty file gives the documented defaults', (t) => {
  const c = parseDaemonConfig('', FILE, { nodeName: 'n1', nodeAddress: '10.0.0.1' });
  t.deepEqual(c.node, { name: 'n1', address: '10.0.0.1' });
  t.deepEqual(c.ports, { outbound: 15001, inbound: 15008, inboundPlaintext: 15006, dns: 15053, admin: 15000, metrics: 15020 });
  t.deepEqual(c.mesh, { trustDomain: 'cluster.local', domain: 'cluster.local' });
  t.is(c.adminAddress, '127.0.0.1');
  t.deepEqual(c.capture, { enabled: true, dns: true, failOpen: false }, 'fail closed by default');
  t.deepEqual(c.dns.upstreams, []);
  t.is(c.drainTimeoutMs, 30_000);
  t.is(c.logLevel, 'info');
});

test('file settings apply, and flags override the file', (t) => {
  const text = [
    'node: {name: file-node, address: 10.1.1.1}',
    'mesh: {domain: mesh.example}',
    'ports: {inbound: 16008}',
    'store: {url: "redis://10.9.9.9:6379", sentinels: ["10.0.0.5:26379"]}',
    'drainTimeout: 2s',
    'logLevel: debug',
    'capture: {dns: false}',
  ].join('\n');
  const c = parseDaemonConfig(text, FILE, { nodeName: 'flag-node', redisUrl: 'redis://127.0.0.1:7000', logLevel: 'warn' });
  t.is(c.node.name, 'flag-node');
  t.is(c.node.address, '10.1.1.1');
  t.deepEqual(c.mesh, { trustDomain: 'mesh.example', domain: 'mesh.example' }, 'the trust domain follows the mesh domain unless set');
  t.is(c.ports.inbound, 16008);
  t.is(c.ports.outbound, 15001);
  t.is(c.store.url, 'redis://127.0.0.1:7000');
  t.deepEqual(c.store.sentinels, [{ host: '10.0.0.5', port: 26379 }]);
  t.is(c.store.sentinelName, 'mymaster');
  t.is(c.drainTimeoutMs, 2_000);
  t.is(c.logLevel, 'warn');
  t.false(c.capture.dns);
  t.true(c.capture.enabled);
});

test.serial('the node name: the flag, else the file, else AMBIT_NODE, else the hostname', (t) => {
  const before = process.env.AMBIT_NODE;
  t.teardown(() => {
    if (before === undefined) delete process.env.AMBIT_NODE;
    else process.env.AMBIT_NODE = before;
  });
  process.env.AMBIT_NODE = 'env-node';
  t.is(parseDaemonConfig('', FILE, { nodeAddress: '10.0.0.1' }).node.name, 'env-node');
  t.is(parseDaemonConfig('node: {name: file-node}', FILE, { nodeAddress: '10.0.0.1' }).node.name, 'file-node');
  t.is(parseDaemonConfig('node: {name: file-node}', FILE, { nodeName: 'flag-node' }).node.name, 'flag-node');
  delete process.env.AMBIT_NODE;
  t.is(parseDaemonConfig('', FILE, { nodeAddress: '10.0.0.1' }).node.name, hostname());
});

test('an unknown field is rejected with file:line', (t) => {
  const e = errorOf(t, 'node: {name: n1}\nports:\n  inbound: 15008\n  outbund: 15001\n');
  t.is(e.line, 4);
  t.is(e.field, 'ports.outbund');
  t.true(e.message.startsWith(`${FILE}:4:`), e.message);
});

test('a bad port is rejected with file:line', (t) => {
  const e = errorOf(t, 'ports:\n  admin: 70000\n');
  t.is(e.line, 2);
  t.is(e.field, 'ports.admin');
  t.regex(e.message, new RegExp(`^${FILE}:2: .*ports\\.admin`));
});

test('a bad duration is rejected with file:line', (t) => {
  const e = errorOf(t, 'logLevel: info\ndrainTimeout: soon\n');
  t.is(e.line, 2);
  t.is(e.field, 'drainTimeout');
  t.regex(e.message, /soon/);
});

test('a bad address and a bad log level name the field', (t) => {
  t.is(errorOf(t, 'node: {address: not-an-ip}\n').field, 'node.address');
  t.is(errorOf(t, 'logLevel: loud\n').field, 'logLevel');
});

test('invalid YAML names the file and line', (t) => {
  const e = errorOf(t, 'node:\n  name: [unclosed\n');
  t.true(e.message.startsWith(`${FILE}:`), e.message);
  t.regex(e.message, /invalid YAML/);
});

test('identity.rootFingerprint: bare or colon-separated hex in either case, normalized; anything else is a file:line error', (t) => {
  const hex = '5f2a'.repeat(16);
  const canonical = hex.toUpperCase().match(/../g)!.join(':');
  t.is(parseDaemonConfig(`identity: {rootFingerprint: ${hex}}\n`, FILE).identity.rootFingerprint, canonical);
  t.is(parseDaemonConfig(`identity: {rootFingerprint: "${canonical.toLowerCase()}"}\n`, FILE).identity.rootFingerprint, canonical);
  t.is(parseDaemonConfig('', FILE).identity.rootFingerprint, undefined, 'unset: only the token pins the root');
  for (const bad of [hex.slice(2), `${hex}00`, `"${canonical.slice(3)}"`, 'zz'.repeat(32), `"${canonical.replace(/:/g, '-')}"`]) {
    const e = errorOf(t, `node: {name: n1}\nidentity:\n  rootFingerprint: ${bad}\n`);
    t.is(e.line, 3, bad);
    t.is(e.field, 'identity.rootFingerprint', bad);
    t.regex(e.message, /is not a SHA-256 fingerprint: give 64 hex digits, bare or colon-separated \(as `ambit ca show` prints it\)/, bad);
  }
});

test('metricsAddress binds 15020: 0.0.0.0 unless set, an IPv4 or IPv6 literal, anything else refused with its line', (t) => {
  t.is(parseDaemonConfig('', 'ambitd.yaml').metricsAddress, '0.0.0.0');
  t.is(parseDaemonConfig('metricsAddress: 127.0.0.1\n', 'ambitd.yaml').metricsAddress, '127.0.0.1');
  t.is(parseDaemonConfig("metricsAddress: '::1'\n", 'ambitd.yaml').metricsAddress, '::1');
  const err = t.throws(() => parseDaemonConfig('logLevel: info\nmetricsAddress: metrics.example\n', 'ambitd.yaml'));
  t.regex(err?.message ?? '', /ambitd\.yaml:2.*metricsAddress.*"metrics\.example" is not an IP address/);
});

test("waypointMetricsAddress: the waypoints' metrics on 127.0.0.1 unless set, an IP literal only", (t) => {
  t.is(parseDaemonConfig('', 'ambitd.yaml').waypointMetricsAddress, '127.0.0.1');
  t.is(parseDaemonConfig('waypointMetricsAddress: 10.0.0.7\n', 'ambitd.yaml').waypointMetricsAddress, '10.0.0.7');
  const err = t.throws(() => parseDaemonConfig('waypointMetricsAddress: node-a\n', 'ambitd.yaml'));
  t.regex(err?.message ?? '', /ambitd\.yaml:1.*waypointMetricsAddress.*"node-a" is not an IP address/);
});

// The netns harness itself: hosts reach each other, runs do not collide, and nothing
// is left behind however a test ends (teardown, throw, signal, crash).

import { spawn as spawnChild, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { sweepStale, waitForOutput, withTopology, type Topology } from '../helpers/netns.js';
import { ipNetnsList } from '../helpers/netns-ip.js';
import { netnsTest } from '../helpers/netns-test.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const helperUrl = new URL('../helpers/netns.js', import.meta.url).href;
const node = process.execPath;

const ECHO_SERVER = `
const net = require('node:net');
net.createServer(s => s.pipe(s)).listen(Number(process.argv[1]), process.argv[2], () => console.log('listening'));
`;

const ECHO_CLIENT = `
const net = require('node:net');
setTimeout(() => { console.error('timeout'); process.exit(2); }, 5000).unref();
const s = net.connect(Number(process.argv[2]), process.argv[1], () => s.end(process.argv[3]));
let got = '';
s.on('data', c => { got += c; });
s.on('end', () => console.log(got));
s.on('error', e => { console.error(e.message); process.exit(1); });
`;

async function startEcho(topo: Topology, host: string, port: number): Promise<void> {
  const server = topo.spawn(host, node, ['-e', ECHO_SERVER, String(port), topo.host(host).address]);
  await waitForOutput(server, /listening/, 30_000);
}

async function roundTrip(topo: Topology, from: string, to: string, port: number): Promise<string> {
  const message = `hello ${from}->${to}`;
  const r = await topo.exec(from, node, ['-e', ECHO_CLIENT, topo.host(to).address, String(port), message]);
  if (r.code !== 0) throw new Error(`client on ${from} -> ${to}: code ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

const namespaces = ipNetnsList;

function rootLinks(): string {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
}

function assertGone(t: ExecutionContext, names: string[]): void {
  const left = new Set(namespaces());
  t.deepEqual(
    names.filter((n) => left.has(n)),
    [],
    'namespaces left behind',
  );
}

netnsTest('three hosts reach each other over TCP through the bridge', async (t) => {
  const topo = await withTopology(t, { hosts: ['a', 'b', 'c'] });
  t.is(new Set(topo.hosts.map((h) => h.address)).size, 3);
  for (const h of topo.hosts) {
    t.true(h.veth.length <= 15 && h.switchPort.length <= 15, `IFNAMSIZ: ${h.veth} ${h.switchPort}`);
  }
  await Promise.all(topo.hosts.map(async (h) => startEcho(topo, h.name, 7000)));
  for (const from of ['a', 'b', 'c']) {
    for (const to of ['a', 'b', 'c'].filter((n) => n !== from)) {
      t.is(await roundTrip(topo, from, to, 7000), `hello ${from}->${to}`);
    }
  }
});

netnsTest('a host is isolated from the machine: its loopback is its own', async (t) => {
  const topo = await withTopology(t, { hosts: ['a'] });
  const r = await topo.exec('a', 'ip', ['-o', 'addr', 'show']);
  t.is(r.code, 0);
  t.regex(r.stdout, new RegExp(`${topo.hosts[0]?.veth}\\s+inet ${topo.hosts[0]?.address.replaceAll('.', '\\.')}/24`));
  // Exactly lo and the veth: none of the machine's interfaces are visible.
  t.is(r.stdout.split('\n').filter((l) => l.includes(' inet ')).length, 2);
});

netnsTest('two concurrent topologies get distinct names and work independently', async (t) => {
  const [one, two] = await Promise.all([withTopology(t, { hosts: ['a', 'b'] }), withTopology(t, { hosts: ['a', 'b'] })]);
  const names = (topo: Topology): string[] => [topo.switchNs, topo.bridge, ...topo.hosts.flatMap((h) => [h.ns, h.veth, h.switchPort])];
  const shared = names(one).filter((n) => names(two).includes(n));
  t.deepEqual(shared, []);
  // The same port on the same host name in both: no interference.
  await Promise.all([startEcho(one, 'b', 7001), startEcho(two, 'b', 7001)]);
  t.is(await roundTrip(one, 'a', 'b', 7001), 'hello a->b');
  t.is(await roundTrip(two, 'a', 'b', 7001), 'hello a->b');
});

netnsTest('destroy() kills processes, removes every namespace and link, and is idempotent', async (t) => {
  const topo = await withTopology(t, { hosts: ['a', 'b'] });
  const sleeper = topo.spawn('a', 'sleep', ['60']);
  const exited = new Promise((resolve) => sleeper.once('exit', resolve));
  const ours = [topo.switchNs, ...topo.hosts.map((h) => h.ns)];
  t.deepEqual(
    ours.filter((n) => !namespaces().includes(n)),
    [],
    'namespaces exist before destroy',
  );
  await Promise.all([topo.destroy(), topo.destroy()]);
  await topo.destroy();
  await exited;
  assertGone(t, ours);
  const links = rootLinks();
  for (const name of [topo.bridge, ...topo.hosts.flatMap((h) => [h.veth, h.switchPort])]) {
    t.false(links.includes(name), `link ${name} in the root namespace`);
  }
  t.throws(() => topo.spawn('a', 'true'), { message: /destroyed/ });
});

netnsTest('a test body that throws still cleans up (child ava run)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-netns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'ava.config.mjs');
  writeFileSync(config, `export default ${JSON.stringify({ files: ['dist/test/e2e/fixtures/throwing-body.js'], workerThreads: false, timeout: '30s' })};\n`);
  const out = join(dir, 'names.json');
  const child = spawnChild(node, [join(repoRoot, 'node_modules/ava/entrypoints/cli.mjs'), '--config', config, '--tap'], {
    cwd: repoRoot,
    env: { ...process.env, AMBIT_FIXTURE_OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.not(code, 0, output);
  t.regex(output, /deliberate failure in the test body/);
  t.regex(output, /# fail 1/);
  const names = JSON.parse(readFileSync(out, 'utf8')) as string[];
  t.is(names.length, 3);
  assertGone(t, names);
});

/**
 * A plain node process (not ava) that builds a topology, prints its names, then does
 * `mode`. If the test gives up early (a slow machine), teardown still ends it and sweeps.
 */
function startScript(t: ExecutionContext, mode: 'throw' | 'wait'): ReturnType<typeof spawnChild> {
  const script = `
		import {createTopology} from ${JSON.stringify(helperUrl)};
		const topo = await createTopology({hosts: ['a']});
		topo.spawn('a', 'sleep', ['60'], {stdio: 'ignore'});
		console.log(JSON.stringify([topo.switchNs, ...topo.hosts.map(h => h.ns)]));
		if (${JSON.stringify(mode)} === 'throw') setTimeout(() => { throw new Error('uncaught'); }, 50);
		else setInterval(() => {}, 1000);
	`;
  const child = spawnChild(node, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise((resolve) => child.once('close', resolve));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
    sweepStale();
  });
  return child;
}

async function namesFrom(child: ReturnType<typeof spawnChild>): Promise<string[]> {
  // Generous: a node start plus a topology can take seconds on a loaded CI machine.
  return JSON.parse(await waitForOutput(child, /\[.*\]\n/, 60_000)) as string[];
}

for (const how of ['SIGTERM', 'SIGINT', 'uncaught exception'] as const) {
  netnsTest(`the exit hook cleans up when the process ends by ${how}`, async (t) => {
    const child = startScript(t, how === 'uncaught exception' ? 'throw' : 'wait');
    const closed = new Promise<[number | null, string | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    const names = await namesFrom(child);
    if (how !== 'uncaught exception') child.kill(how);
    const [code, signal] = await closed;
    // It still dies as it would have without our hook.
    if (how === 'uncaught exception') t.is(code, 1);
    else t.is(signal, how);
    assertGone(t, names);
  });
}

netnsTest('sweepStale() removes what a SIGKILLed run left behind, and nothing live', async (t) => {
  const live = await withTopology(t, { hosts: ['a'] });
  const child = startScript(t, 'wait');
  const names = await namesFrom(child);
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
  t.deepEqual(
    names.filter((n) => !namespaces().includes(n)),
    [],
    'a SIGKILL leaves namespaces behind',
  );
  const swept = sweepStale();
  t.deepEqual(
    names.filter((n) => !swept.includes(n)),
    [],
  );
  assertGone(t, names);
  t.true(namespaces().includes(live.switchNs), 'a live topology is not swept');
});

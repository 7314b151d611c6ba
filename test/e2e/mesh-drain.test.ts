/**
 * Drain on SIGTERM, end to end: two netns hosts with real daemons. Stopping the
 * sending host's ambitd in the middle of 20 captured transfers must let all 20
 * finish (the README promises a drain), and a daemon with a connection that never
 * ends (a client that stopped reading) still exits by drainTimeout plus a margin.
 */
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';

const CLIENT_UID = 2101;
const CONNECTIONS = 20;
const CHUNK = 16 * 1024;
const CHUNKS = 48; // 768 KiB each, one chunk every 75 ms: ~3.6 s, well inside the drain
const DRAIN_S = 8;
const SLOW = 'slow.default.svc.cluster.local';
const FLOOD = 'flood.default.svc.cluster.local';

let mesh: Mesh;

/** Per connection: CHUNKS chunks of CHUNK bytes, one every 75 ms, then FIN. Port 9101: as fast as it can, for at most 60 s. */
const SERVERS = (address: string): string => `
const net = require('net');
net.createServer((s) => {
  s.on('error', () => {});
  let n = 0;
  const tick = setInterval(() => { if (++n > ${CHUNKS}) { clearInterval(tick); s.end(); } else s.write(Buffer.alloc(${CHUNK}, 120)); }, 75);
  s.on('close', () => clearInterval(tick));
}).listen(9100, ${JSON.stringify(address)}, () => console.log('listening'));
net.createServer((s) => {
  s.on('error', () => {});
  const until = Date.now() + 60000;
  const pump = () => { while (Date.now() < until && s.write(Buffer.alloc(65536))); if (Date.now() < until) s.once('drain', pump); else s.destroy(); };
  pump();
}).listen(9101, ${JSON.stringify(address)});`;

/** CONNECTIONS transfers; "flowing" once every one has bytes, then one JSON line of how they ended. */
const CLIENT = `
const net = require('net');
const results = []; let flowing = 0;
for (let i = 0; i < ${CONNECTIONS}; i++) {
  const s = net.connect(9100, ${JSON.stringify(SLOW)});
  let bytes = 0, first = true, error;
  s.on('data', (d) => { bytes += d.length; if (first) { first = false; if (++flowing === ${CONNECTIONS}) console.log('flowing'); } });
  s.on('error', (e) => { error = e.code || e.message; });
  s.on('close', () => { results.push({ bytes, error }); if (results.length === ${CONNECTIONS}) { console.log(JSON.stringify(results)); setTimeout(() => {}, 1000); } });
}`;

/** One connection that reads nothing while the far end writes as fast as it can: state a drain cannot finish. */
const STALLED_CLIENT = `
const s = require('net').connect(9101, ${JSON.stringify(FLOOD)});
s.pause(); s.on('error', () => {});
s.once('connect', () => setTimeout(() => console.log('stalled'), 1500));
setTimeout(() => process.exit(0), 60000);`;

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b'], { drainTimeout: `${DRAIN_S}s` });
  const server = mesh.topo.spawn('b', process.execPath, ['-e', SERVERS(mesh.topo.host('b').address)]);
  await waitForOutput(server, /listening/);
  for (const host of ['a', 'b']) await mesh.startDaemon(host);
  await mesh.enroll('b', ['slow', '--port', '9100']);
  await mesh.enroll('b', ['flood', '--port', '9101']);
  await mesh.enroll('a', ['client', '--port', '9000', '--user', String(CLIENT_UID)]);
  await meshReady();
});

/** The client's connection by name carries bytes: DNS capture, outbound and the tunnel are all up (after each restart too). */
async function meshReady(): Promise<void> {
  const probe = `require('net').connect(9100, ${JSON.stringify(SLOW)}).on('data', () => process.exit(0)).on('error', (e) => { console.error(e.code || e.message); process.exit(1); })`;
  let last = '';
  try {
    await eventually(async () => {
      const r = await mesh.asUser('a', CLIENT_UID, process.execPath, ['-e', probe], 5000);
      last = `code ${r.code}: ${r.stderr}`;
      return r.code === 0;
    }, 30_000);
  } catch (error) {
    throw new Error(`the client cannot reach ${SLOW} (${last}); host a's log:\n${mesh.logs('a').split('\n').slice(-15).join('\n')}`, { cause: error });
  }
}

test.after.always(async () => {
  await mesh?.destroy();
});

function spawnAs(host: string, uid: number, script: string): ChildProcess {
  return mesh.topo.spawn(host, 'setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', script]);
}

interface Transfers {
  flowing: Promise<void>;
  /** How each of the CONNECTIONS transfers ended. */
  results: Promise<{ bytes: number; error?: string }[]>;
}

/** The CLIENT on host a; its output is collected from the start, so a report printed early is not missed. */
function startTransfers(): Transfers {
  const child = spawnAs('a', CLIENT_UID, CLIENT);
  let out = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const check of waiters) check();
  });
  const seen = (pattern: RegExp, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
      const check = (): boolean => {
        const match = pattern.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[0]);
        }
        return match !== null;
      };
      waiters.push(check);
      child.once('exit', () => setImmediate(() => check() || reject(new Error(`client exited before ${pattern}; output:\n${out}`))));
      check();
    });
  const flowing = seen(/^flowing$/m, 15_000).then(() => undefined);
  const results = seen(/^\[.*\]$/m, 40_000).then((line) => JSON.parse(line) as { bytes: number; error?: string }[]);
  // A test that fails at "flowing" never awaits the results: their rejection is not news.
  results.catch(() => undefined);
  return { flowing, results };
}

/** SIGTERM to a host's daemon; resolves to how long it took to exit, in ms. */
async function timedStop(host: string): Promise<number> {
  const started = Date.now();
  await mesh.stopDaemon(host);
  return Date.now() - started;
}

test.serial('SIGTERM on the sending host: all 20 captured transfers in flight finish', async (t) => {
  const transfers = startTransfers();
  await transfers.flowing;
  const tookMs = await timedStop('a');
  const results = await transfers.results;
  const finished = results.filter((r) => r.bytes === CHUNK * CHUNKS && !r.error);
  t.is(finished.length, CONNECTIONS, `finished ${finished.length} of ${CONNECTIONS}: ${JSON.stringify(results.filter((r) => !finished.includes(r)))}`);
  t.true(tookMs < (DRAIN_S + 5) * 1000, `ambitd exited ${tookMs} ms after SIGTERM`);
  t.regex(mesh.logs('a'), /"msg":"draining"/);
  await mesh.startDaemon('a');
});

test.serial('fail open: SIGTERM on the sending host stops capturing new connections, yet the 20 in flight finish', async (t) => {
  await mesh.stopDaemon('a');
  await mesh.startDaemon('a', 'capture: {failOpen: true}\n');
  await meshReady();
  const transfers = startTransfers();
  await transfers.flowing;
  await timedStop('a');
  const results = await transfers.results;
  t.is(results.filter((r) => r.bytes === CHUNK * CHUNKS && !r.error).length, CONNECTIONS, JSON.stringify(results));
  t.regex(mesh.logs('a'), /capture jumps removed[^\n]*\n(.*\n)*.*capture rules removed/, 'jumps first, chains after the drain');
  t.notRegex((await mesh.topo.exec('a', 'iptables-save')).stdout, /AMBIT_|ambit/, 'no ambit rule or chain is left once the drain is over');
  await mesh.startDaemon('a');
});

test.serial('SIGTERM on the receiving host: the transfers in flight finish too', async (t) => {
  await meshReady();
  const transfers = startTransfers();
  await transfers.flowing.catch((error: Error) => {
    throw new Error(
      `${error.message}\nhost a:\n${mesh.logs('a').split('\n').slice(-12).join('\n')}\nhost b:\n${mesh.logs('b').split('\n').slice(-12).join('\n')}`,
    );
  });
  await timedStop('b');
  const results = await transfers.results;
  t.is(results.filter((r) => r.bytes === CHUNK * CHUNKS && !r.error).length, CONNECTIONS, JSON.stringify(results));
  await mesh.startDaemon('b');
});

test.serial('a connection that never ends does not hold ambitd past drainTimeout + 5 s', async (t) => {
  await meshReady();
  const stalled = spawnAs('a', CLIENT_UID, STALLED_CLIENT);
  await waitForOutput(stalled, /stalled/, 15_000);
  const tookMs = await timedStop('a');
  stalled.kill();
  t.true(tookMs < (DRAIN_S + 5) * 1000, `ambitd exited ${tookMs} ms after SIGTERM`);
  t.true(tookMs >= DRAIN_S * 1000 - 500, `it waited for the drain first (${tookMs} ms)`);
  await mesh.startDaemon('a');
});

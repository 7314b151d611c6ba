// Hosts for e2e tests, built from network namespaces.
//
// A topology is one "switch" namespace holding a bridge, and one namespace per host
// joined to that bridge by a veth pair. Every link is created inside our own
// namespaces (the veth is made in the switch namespace with its peer moved straight
// into the host), so the machine's root network namespace is never touched.
//
// Namespaces are named `<prefix><creator pid>-<random>-<host>`: the pid lets
// sweepStale() recognise leftovers of a crashed run, the random part keeps two
// topologies of one process apart. Link names live inside those namespaces but are
// unique per topology anyway, so captures and logs say which run they came from.

import { spawn as spawnChild, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { requireNetns } from './netns-guard.js';
import { ip, ipNetnsList, removeNamespaces } from './netns-ip.js';

export { probeNetns, requireNetns } from './netns-guard.js';

export const DEFAULT_PREFIX = 'amb-';

export interface TopologySpec {
  /** Host names: lower-case letters and digits, starting with a letter. */
  hosts: string[];
  /** IPv4 CIDR for the hosts, e.g. '10.77.3.0/24'; default a random 10.X.Y.0/24. */
  subnet?: string;
  /** Namespace name prefix; default 'amb-'. */
  prefix?: string;
}

export interface Host {
  name: string;
  /** Network namespace name (for `ip netns exec`, `ip -n`). */
  ns: string;
  /** IPv4 address without prefix length. */
  address: string;
  /** The host's interface (in `ns`), which carries `address`. */
  veth: string;
  /** The other end of the veth, a bridge port in the switch namespace: capture here to see the wire. */
  switchPort: string;
}

export interface ExecOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the command after this long; default 30 s. */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default ['ignore', 'pipe', 'pipe']: read or resume the pipes of a chatty process, or pass 'ignore'/'inherit'. */
  stdio?: StdioOptions;
}

export interface Topology {
  hosts: Host[];
  /** Look a host up by name; throws on a name that is not in the topology. */
  host(name: string): Host;
  /** The namespace holding the bridge. */
  switchNs: string;
  bridge: string;
  /** e.g. '10.77.3.0/24' */
  subnet: string;
  /** Run a command to completion in a host's namespace. Never rejects on a non-zero exit: check `code`. */
  exec(host: string, cmd: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-running command in a host's namespace; it is killed by destroy(). */
  spawn(host: string, cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess;
  /** Kill everything started in the topology and delete its namespaces. Idempotent. */
  destroy(): Promise<void>;
}

/** Create the namespaces, bridge and veths for `spec.hosts`. Cleans up after itself if any step fails. */
export async function createTopology(spec: TopologySpec): Promise<Topology> {
  const prefix = spec.prefix ?? DEFAULT_PREFIX;
  validateHosts(spec.hosts);
  sweepOnce(prefix);
  const { base, bits } = parseSubnet(spec.subnet ?? randomSubnet());
  if (spec.hosts.length > 2 ** (32 - bits) - 2) {
    throw new Error(`subnet /${bits} is too small for ${spec.hosts.length} hosts`);
  }

  const tag = newTag();
  const stem = `${prefix}${process.pid}-${tag}`;
  const switchNs = `${stem}-switch`;
  const bridge = `br${tag}`;
  const hosts: Host[] = spec.hosts.map((name, i) => ({
    name,
    ns: `${stem}-${name}`,
    address: intToIp(base + i + 1),
    // 've' + 4 + 'h' + up to 3 digits: well inside IFNAMSIZ (15).
    veth: `ve${tag}h${i}`,
    switchPort: `ve${tag}s${i}`,
  }));

  // Registered before anything exists, so that an exit mid-creation still cleans up.
  const state = new TopologyState([switchNs, ...hosts.map((h) => h.ns)]);
  live.add(state);
  try {
    await ip(['netns', 'add', switchNs]);
    await ip(['-n', switchNs, 'link', 'add', bridge, 'type', 'bridge']);
    await ip(['-n', switchNs, 'link', 'set', bridge, 'up']);
    // Hosts are independent once the bridge exists: wire them in parallel.
    await Promise.all(
      hosts.map(async (h) => {
        await ip(['netns', 'add', h.ns]);
        await ip(['-n', switchNs, 'link', 'add', h.switchPort, 'type', 'veth', 'peer', 'name', h.veth, 'netns', h.ns]);
        await ip(['-n', switchNs, 'link', 'set', h.switchPort, 'master', bridge, 'up']);
        await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
        await ip(['-n', h.ns, 'addr', 'add', `${h.address}/${bits}`, 'dev', h.veth]);
        await ip(['-n', h.ns, 'link', 'set', h.veth, 'up']);
        // A real host has a default route; without one, connect() to a mesh VIP
        // fails with ENETUNREACH before iptables capture ever sees the packet.
        await ip(['-n', h.ns, 'route', 'add', 'default', 'dev', h.veth]);
      }),
    );
  } catch (error) {
    await state.destroy();
    throw error;
  }

  const byName = new Map(hosts.map((h) => [h.name, h]));
  const host = (name: string): Host => {
    const h = byName.get(name);
    if (!h) throw new Error(`no host '${name}' in topology (hosts: ${[...byName.keys()].join(', ')})`);
    return h;
  };

  return {
    hosts,
    host,
    switchNs,
    bridge,
    subnet: `${intToIp(base)}/${bits}`,
    exec: (name, cmd, args = [], opts = {}) => state.exec(host(name).ns, cmd, args, opts),
    spawn: (name, cmd, args = [], opts = {}) => state.spawn(host(name).ns, cmd, args, opts),
    destroy: () => state.destroy(),
  };
}

/**
 * For ava: fails the test clearly when netns is unusable (see requireNetns), and
 * destroys the topology in t.teardown, which ava runs even when the test body throws.
 */
export async function withTopology(t: ExecutionContext, spec: TopologySpec): Promise<Topology> {
  requireNetns();
  const topo = await createTopology(spec);
  t.teardown(() => topo.destroy());
  return topo;
}

/**
 * Delete namespaces left by crashed runs: those named with `prefix` whose creator
 * pid is no longer alive. Returns the names it removed.
 */
export function sweepStale(prefix = DEFAULT_PREFIX): string[] {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}(\\d+)-`);
  const stale = ipNetnsList().filter((name) => {
    const pid = Number(pattern.exec(name)?.[1] ?? Number.NaN);
    return Number.isInteger(pid) && pid !== process.pid && !isAlive(pid);
  });
  removeNamespaces(stale);
  return stale;
}

/** Resolve when the child's stdout or stderr matches `pattern` (e.g. a "listening" line). */
export async function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) finish(undefined, match[0]);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`process exited (code ${code}, signal ${signal}) before printing ${pattern}; output:\n${seen}`));
    const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${seen}`)), timeoutMs);
    const finish = (error?: Error, value?: string): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value ?? '');
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

// --- internals ---

/** What one topology has started and created, so that every exit path can undo it. */
class TopologyState {
  readonly #children = new Set<ChildProcess>();
  #destroying: Promise<void> | undefined;
  readonly #namespaces: string[];

  /** `namespaces` may not all exist yet: removal tolerates missing ones. */
  constructor(namespaces: string[]) {
    this.#namespaces = namespaces;
  }

  exec(ns: string, cmd: string, args: string[], opts: ExecOptions): Promise<ExecResult> {
    const child = this.spawn(ns, cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (c: Buffer) => out.push(c));
      child.stderr?.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code, signal });
      });
      child.stdin?.end(opts.input);
    });
  }

  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
    if (this.#destroying) throw new Error('topology already destroyed');
    // `ip netns exec` execs the command in place, so killing this child kills the command.
    const child = spawnChild('ip', ['netns', 'exec', ns, cmd, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#teardown();
    return this.#destroying;
  }

  /** Last-resort cleanup from a process 'exit' or signal handler, where only synchronous work runs. */
  destroySync(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    removeNamespaces(this.#namespaces);
    live.delete(this);
  }

  async #teardown(): Promise<void> {
    // Let processes stop cleanly first (a daemon removing its rules), then insist.
    await Promise.all([...this.#children].map(async (child) => stopChild(child, 2000)));
    removeNamespaces(this.#namespaces);
    live.delete(this);
  }
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const live = new Set<TopologyState>();
let hooksInstalled = false;
const sweptPrefixes = new Set<string>();

/** Once per process and prefix: clear crashed runs' leftovers, and make sure our own are cleared however we exit. */
function sweepOnce(prefix: string): void {
  if (!sweptPrefixes.has(prefix)) {
    sweptPrefixes.add(prefix);
    sweepStale(prefix);
  }
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanupAll = (): void => {
    for (const state of live) {
      try {
        state.destroySync();
      } catch (error) {
        // Nothing can handle it this late: say so, so the leak is not silent.
        console.error(`netns cleanup at exit: ${(error as Error).message}`);
      }
    }
  };
  process.once('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupAll();
      // Re-raise so the process still dies of the signal (or other listeners handle it).
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

const usedTags = new Set<string>();

/**
 * 4 random base-36 characters, never reused within this process: a clash would make
 * a failed creation's cleanup delete another topology's namespaces. Other processes
 * are kept apart by the pid in namespace names.
 */
function newTag(): string {
  let tag: string;
  do tag = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(4, '0').slice(-4);
  while (usedTags.has(tag));
  usedTags.add(tag);
  return tag;
}

function validateHosts(hosts: string[]): void {
  if (hosts.length === 0) throw new Error('a topology needs at least one host');
  if (hosts.length > 999) throw new Error('at most 999 hosts per topology');
  for (const name of hosts) {
    if (!/^[a-z][a-z0-9]{0,15}$/.test(name) || name === 'switch') {
      throw new Error(`bad host name '${name}': use 1-16 lower-case letters/digits starting with a letter, not 'switch'`);
    }
  }
  if (new Set(hosts).size !== hosts.length) throw new Error(`duplicate host names in ${hosts.join(', ')}`);
}

function randomSubnet(): string {
  const [x = 0, y = 0] = randomBytes(2);
  // 10.X.Y.0/24 with X in 64..254: away from the 10.0.x / 10.1.x that labs and clouds like.
  return `10.${64 + (x % 191)}.${y}.0/24`;
}

function parseSubnet(cidr: string): { base: number; bits: number } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || bits < 8 || bits > 30) {
    throw new Error(`bad subnet '${cidr}': want an IPv4 CIDR like 10.77.3.0/24 (prefix 8-30)`);
  }
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - bits);
  return { base: addr - (addr % size), bits };
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

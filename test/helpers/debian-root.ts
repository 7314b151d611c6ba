/**
 * A fresh Debian for package tests: a minimal root made by debootstrap from Debian's own
 * mirror, kept in a cache (one per suite and architecture, by default under
 * /var/cache/ambit-test/debootstrap, AMBIT_DEBOOTSTRAP_CACHE to move it) so only the
 * first run pays for it, and copied to a throw-away directory per test run.
 *
 * Commands run in it with `unshare --mount --pid --fork --kill-child --root=… --mount-proc`:
 * /proc is mounted in a mount namespace of their own, so it goes away with them even when
 * a test fails or the command is killed, and every process they start (a daemon a
 * package's postinst would launch) dies with the pid namespace. `network: 'none'` adds
 * --net: a namespace with only a loopback, so nothing in the root reaches the host's
 * services. The root has no policy for starting services (policy-rc.d says no), as in a
 * Debian image build.
 *
 * apt's package lists and the .debs it downloads are kept beside the cached root too
 * (`<suite>-<arch>.apt/`) and put back into each copy before apt runs: apt checks them
 * against the signed Release files as it would fresh ones, and a run on a machine that
 * cannot reach the mirror (CI in a network namespace of its own) still installs the same
 * Debian packages, saying that it used the cache, instead of failing on a name lookup.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEBOOTSTRAP_CACHE = process.env.AMBIT_DEBOOTSTRAP_CACHE || '/var/cache/ambit-test/debootstrap';
/** Written last by a debootstrap that finished: a cache without it is half made and made again. */
const COMPLETE = '.ambit-debootstrap-complete';
/** A cached root older than this is made again, so its packages do not drift far from the mirror's. */
const MAX_AGE_MS = 30 * 24 * 3600_000;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** 'host' (default): the host's network, for apt; 'none': a namespace with only loopback, up. */
  network?: 'host' | 'none';
  timeoutMs?: number;
}

/** Runs a command on this machine, collecting its output. */
export function runHost(command: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The Debian mirror this machine's apt uses (deb822 .sources or sources.list), else deb.debian.org. */
export function debianMirror(): string {
  if (process.env.AMBIT_DEBIAN_MIRROR) return process.env.AMBIT_DEBIAN_MIRROR;
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  if (existsSync('/etc/apt/sources.list.d'))
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) if (/\.(list|sources)$/.test(f)) files.push(join('/etc/apt/sources.list.d', f));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const uris = [...text.matchAll(/^URIs:\s*(\S+)/gm), ...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+/gm)].map((m) => m[1]!);
    const debian = uris.find((u) => /\/debian\/?$/.test(u));
    if (debian) return debian.replace(/\/$/, '');
  }
  return 'http://deb.debian.org/debian';
}

/**
 * The cached minimal root for `suite`/`arch`, made with debootstrap when missing or stale.
 * Throws, naming the mirror and quoting debootstrap, when it cannot be made: a test that
 * needs a fresh Debian must fail, not pass, without one.
 */
export async function cachedDebianRoot(suite: string, arch: string): Promise<string> {
  const root = join(DEBOOTSTRAP_CACHE, `${suite}-${arch}`);
  const marker = join(root, COMPLETE);
  if (existsSync(marker) && Date.now() - statSync(marker).mtimeMs < MAX_AGE_MS) return root;
  const found = await runHost('sh', ['-c', 'command -v debootstrap']);
  if (found.code !== 0) throw new Error('debootstrap is not installed: apt-get install -y debootstrap (scripts/test.sh installs it)');
  mkdirSync(DEBOOTSTRAP_CACHE, { recursive: true });
  // Made beside the cache entry and renamed into place, so a run that dies halfway leaves no half root behind a marker.
  const partial = `${root}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  const mirror = debianMirror();
  const made = await runHost('debootstrap', ['--variant=minbase', `--arch=${arch}`, suite, partial, mirror], 15 * 60_000);
  if (made.code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    const tail = `${made.stdout}${made.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `debootstrap ${suite} (${arch}) from ${mirror} failed (exit ${made.code ?? made.signal}): is the mirror reachable? set AMBIT_DEBIAN_MIRROR to another one\n${tail}`,
    );
  }
  writeFileSync(join(partial, COMPLETE), `${suite} ${arch} from ${mirror}\n`);
  rmSync(root, { recursive: true, force: true });
  renameSync(partial, root);
  return root;
}

/** Paths under `dir` that something is mounted on, as this process sees them. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)));
}

/** What installWithApt did: apt's result, and whether the mirror answered or the cache stood in. */
export interface AptInstall extends RunResult {
  /** Set when `apt-get update` could not reach the mirror: apt's words, for the test's log. */
  offline?: string;
}

/** apt-get update's words for a mirror it could not reach. */
const UNREACHABLE = /Temporary failure resolving|Could not resolve|Failed to fetch|Could not connect|Network is unreachable/;

/** A copy of a cached root, for one test run; destroy() removes it. */
export class DebianRoot {
  /** Where apt's lists and downloaded .debs for this suite and architecture are kept between runs. */
  readonly #aptCache: string;

  private constructor(
    readonly dir: string,
    aptCache: string,
  ) {
    this.#aptCache = aptCache;
  }

  static async fresh(suite: string, arch: string): Promise<DebianRoot> {
    const cached = await cachedDebianRoot(suite, arch);
    // Not under /tmp: a path there is what `ambit install` warns about, and the root is not a test of that.
    const dir = mkdtempSync('/var/tmp/ambit-debian-');
    const root = new DebianRoot(dir, `${cached}.apt`);
    try {
      // cp -a: owners, modes, device nodes and hard links as debootstrap made them.
      const copy = await runHost('cp', ['-a', `${cached}/.`, dir], 5 * 60_000);
      if (copy.code !== 0) throw new Error(`cp -a ${cached} ${dir}: ${copy.stderr}`);
      rmSync(join(dir, COMPLETE), { force: true });
      // Names for apt; services are never started by package scripts here.
      cpSync('/etc/resolv.conf', join(dir, 'etc/resolv.conf'), { dereference: true });
      writeFileSync(join(dir, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    } catch (err) {
      root.destroy();
      throw err;
    }
    return root;
  }

  /** A path inside the root, as the host sees it. */
  path(inside: string): string {
    return join(this.dir, inside);
  }

  /** `sh -c script` inside the root, as root, with a clean environment (no host variables leak in). */
  run(script: string, options: RunOptions = {}): Promise<RunResult> {
    const none = options.network === 'none';
    const args = [
      '--mount',
      '--pid',
      '--fork',
      '--kill-child',
      ...(none ? ['--net'] : []),
      `--root=${this.dir}`,
      '--mount-proc',
      'env',
      '-i',
      `PATH=${PATH}`,
      'HOME=/root',
      'LANG=C.UTF-8',
      'DEBIAN_FRONTEND=noninteractive',
      'sh',
      '-c',
      none ? `ip link set lo up && { ${script}\n}` : script,
    ];
    return runHost('unshare', args, options.timeoutMs ?? 60_000);
  }

  /**
   * `apt-get update` then `apt-get install -y packages…` inside the root, with apt's lists and
   * archives from earlier runs put in first and what this run fetched kept afterwards. When
   * the mirror cannot be reached, apt keeps the lists it had, installs from the archives it
   * has, and the result says so (`offline`); with nothing cached, the install fails as apt does.
   */
  async installWithApt(packages: string[], timeoutMs: number): Promise<AptInstall> {
    const cached = { lists: join(this.#aptCache, 'lists'), archives: join(this.#aptCache, 'archives') };
    const inRoot = { lists: this.path('var/lib/apt/lists'), archives: this.path('var/cache/apt/archives') };
    for (const part of ['lists', 'archives'] as const) {
      if (!existsSync(cached[part])) continue;
      const seeded = await runHost('cp', ['-a', `${cached[part]}/.`, inRoot[part]], 5 * 60_000);
      if (seeded.code !== 0) throw new Error(`cp -a ${cached[part]} ${inRoot[part]}: ${seeded.stderr}`);
    }
    const update = await this.run('apt-get update -q 2>&1', { timeoutMs });
    const offline = UNREACHABLE.test(update.stdout)
      ? update.stdout
          .split('\n')
          .filter((l) => UNREACHABLE.test(l))[0]
          ?.trim()
      : undefined;
    const install = await this.run(`apt-get install -y -q ${packages.join(' ')}`, { timeoutMs });
    if (install.code === 0 && !offline) await this.#keepAptCache(inRoot);
    return { ...install, stdout: `${update.stdout}${install.stdout}`, ...(offline ? { offline } : {}) };
  }

  /** Keeps this run's lists and archives (the earlier ones plus what it downloaded); a half copy is never kept. */
  async #keepAptCache(from: { lists: string; archives: string }): Promise<void> {
    const partial = `${this.#aptCache}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    for (const part of ['lists', 'archives'] as const) {
      const copy = await runHost('cp', ['-a', from[part], join(partial, part)], 5 * 60_000);
      if (copy.code !== 0) return void rmSync(partial, { recursive: true, force: true });
    }
    // apt's lock files and half downloads are this run's, not the cache's.
    for (const leftover of ['lists/lock', 'lists/partial', 'archives/lock', 'archives/partial'])
      rmSync(join(partial, leftover), { recursive: true, force: true });
    rmSync(this.#aptCache, { recursive: true, force: true });
    renameSync(partial, this.#aptCache);
  }

  /** Removes the copy; refuses while anything is mounted in it (it would be the host's). */
  destroy(): void {
    const mounted = mountsUnder(this.dir);
    if (mounted.length > 0) throw new Error(`not removing ${this.dir}: still mounted there: ${mounted.join(', ')}`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

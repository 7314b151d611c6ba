/**
 * Bookinfo deployed on a mesh of network-namespace hosts: Redis and the CA on
 * `store`, one ambitd on each of a, b and c, the services as their own uids,
 * enrolled, with the base mesh config applied. Also how the demo talks to it:
 * ambit commands and shell commands run on a host and echoed as typed, and
 * the user's requests to productpage.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { createMesh, type Mesh } from '../../../test/helpers/mesh.js';
import { waitForOutput, type ExecResult } from '../../../test/helpers/netns.js';
import { REPO_ROOT } from '../../../test/helpers/cli.js';
import type { Page } from '../services/productpage-view.js';
import type { Narrator } from './narrator.js';
import { addressIn, SERVICE_PORT, WORKLOADS, workloadName, type DemoHost, type Workload } from './workloads.js';

const SERVICES_DIR = new URL('../services/', import.meta.url);
export const MESH_DIR = join(REPO_ROOT, 'examples/bookinfo/mesh');

/** One request to productpage, as the user's client saw it. */
export interface PageResult {
  page: Page;
  seconds: number;
}

/** Why pages lacked a backend: each distinct error once, with its count and its first request, so a failed proof says what went wrong. */
export function pageErrors(results: PageResult[], backend: 'details' | 'reviews'): string {
  const seen = new Map<string, { count: number; first: PageResult }>();
  for (const r of results) {
    const error = r.page[`${backend}Error`];
    if (error === null) continue;
    const s = seen.get(error);
    if (s) s.count++;
    else seen.set(error, { count: 1, first: r });
  }
  return [...seen].map(([error, { count, first }]) => `${count}x ${error} (request ${first.page.requestId}, ${first.seconds.toFixed(2)} s)`).join('; ');
}

/** A page as shown to the user, and what it says. */
export interface ShownPage {
  text: string;
  seconds: number;
  /** The reviews version the page names, if reviews answered. */
  version: string | undefined;
  stars: boolean;
}

export class Bookinfo {
  readonly mesh: Mesh;
  readonly #n: Narrator;
  readonly #logDir: string;

  private constructor(mesh: Mesh, narrator: Narrator, logDir: string) {
    this.mesh = mesh;
    this.#n = narrator;
    this.#logDir = logDir;
  }

  static async start(n: Narrator, logDir: string): Promise<Bookinfo> {
    const started = Date.now();
    n.say('Building hosts store, a, b and c (network namespaces on one bridge), Redis on store, and the mesh CA (ambit ca init) ...');
    const mesh = await n.ticking(createMesh(['a', 'b', 'c']));
    const app = new Bookinfo(mesh, n, logDir);
    try {
      n.say(`  subnet ${mesh.topo.subnet}: ${mesh.topo.hosts.map((h) => `${h.name} ${h.address}`).join(', ')}; store at ${mesh.redisUrl}`);
      n.say('Starting ambitd on a (it also runs the CA signer), then on b and c: each joins with a one-time token (ambit node token create --node <host>) ...');
      await n.ticking(mesh.startDaemon('a'));
      await n.ticking(Promise.all([mesh.startDaemon('b'), mesh.startDaemon('c')]));
      n.say('Starting the Bookinfo services, each as its own uid, and enrolling them:');
      await n.ticking(Promise.all(WORKLOADS.map((w) => app.#startWorkload(w))));
      for (const w of WORKLOADS) n.say(`  ${workloadName(w).padEnd(11)} on ${w.host} at ${app.address(w)}:${SERVICE_PORT}, uid ${w.uid}`);
      await app.ambitAll(
        WORKLOADS.map((w) => ({
          host: w.host,
          args: [
            'enroll',
            w.service,
            '--port',
            String(SERVICE_PORT),
            '--address',
            app.address(w),
            '--user',
            String(w.uid),
            '-l',
            `app=${w.service}`,
            '-l',
            `version=${w.version}`,
            '--node',
            w.host,
          ],
        })),
      );
      await app.applyFile('destination-rules.yaml');
      n.say('Waiting until productpage shows details and reviews (daemons fetch certificates and program capture) ');
      await app.until(async () => {
        const r = await app.page();
        return r.page.details !== null && r.page.reviews !== null;
      }, 60_000);
      n.say(`Bookinfo is up in ${((Date.now() - started) / 1000).toFixed(1)} s. Service logs: ${logDir}`);
      n.say(`The user's client is curl on host a, outside the mesh (like a browser), asking productpage at ${app.productpageUrl}`);
      n.say('(?u=<name> logs in as <name>; productpage passes it on in the end-user header, as Bookinfo does).');
      return app;
    } catch (err) {
      await app.destroy();
      throw err;
    }
  }

  address(w: Workload): string {
    return addressIn(this.mesh.topo.subnet, w.octet);
  }

  get productpageUrl(): string {
    return `http://${this.address(WORKLOADS[0]!)}:${SERVICE_PORT}/productpage`;
  }

  /** Runs `ambit ARGS` on a host, showing the command and its output; throws when it fails. */
  async ambit(host: DemoHost | 'store', args: string[], show: { output?: boolean } = {}): Promise<string> {
    this.#n.command(host, ambitCommandLine(args));
    const out = await this.#n.ticking(this.#runAmbit(host, args));
    if (show.output ?? true) this.#n.output(out);
    return out;
  }

  /** Several independent ambit commands at once, shown in order with their output. */
  async ambitAll(commands: Array<{ host: DemoHost | 'store'; args: string[] }>): Promise<void> {
    const results = await this.#n.ticking(Promise.allSettled(commands.map((c) => this.#runAmbit(c.host, c.args))));
    for (const [i, r] of results.entries()) {
      this.#n.command(commands[i]!.host, ambitCommandLine(commands[i]!.args));
      if (r.status === 'rejected') throw r.reason;
      this.#n.output(r.value);
    }
  }

  async #runAmbit(host: DemoHost | 'store', args: string[]): Promise<string> {
    const r = await this.mesh.ambit(host, args);
    if (r.code !== 0) throw new Error(`ambit ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  applyFile(name: string): Promise<string> {
    return this.ambit('store', ['apply', '-f', this.meshFile(name)]);
  }

  deleteFile(name: string): Promise<string> {
    return this.ambit('store', ['delete', '-f', this.meshFile(name)]);
  }

  /** examples/bookinfo/mesh/NAME, relative when the demo runs from the checkout (as the user would type it). */
  meshFile(name: string): string {
    const path = join(MESH_DIR, name);
    return process.cwd() === REPO_ROOT.replace(/\/$/, '') ? relative(REPO_ROOT, path) : path;
  }

  /** Runs a shell command line on a host, showing it (and, unless told otherwise, its output). */
  async shell(host: DemoHost | 'store', commandLine: string, show: { output?: boolean } = {}): Promise<ExecResult> {
    this.#n.command(host, commandLine);
    const r = await this.#n.ticking(this.mesh.topo.exec(host, 'bash', ['-c', commandLine], { timeoutMs: 60_000 }));
    if (show.output ?? true) this.#n.output(r.stdout + r.stderr);
    return r;
  }

  /** The productpage a user gets, as text (what a person reads), timed by curl. */
  async showPage(user?: string): Promise<ShownPage> {
    const r = await this.shell('a', `curl -sS --max-time 20 -w '(%{time_total} s)\\n' '${this.#url(user)}'`);
    const time = /\((\d+(?:\.\d+)?) s\)\s*$/.exec(r.stdout);
    if (r.code !== 0 || !time) throw new Error(`productpage did not answer: ${r.stderr.trim() || r.stdout.trim()}`);
    return { text: r.stdout, seconds: Number(time[1]), version: /answered by reviews (v\d)/.exec(r.stdout)?.[1], stars: r.stdout.includes('★') };
  }

  /** One request for the page as JSON (what the proofs read), timed by curl. Not echoed. */
  async page(user?: string): Promise<PageResult> {
    const r = await this.mesh.topo.exec('a', 'curl', ['-sS', '--max-time', '20', '-H', 'accept: application/json', '-w', '\n%{time_total}', this.#url(user)], {
      timeoutMs: 30_000,
    });
    if (r.code !== 0) throw new Error(`productpage did not answer: ${r.stderr.trim()}`);
    const cut = r.stdout.lastIndexOf('\n');
    return { page: JSON.parse(r.stdout.slice(0, cut)) as Page, seconds: Number(r.stdout.slice(cut + 1)) };
  }

  /** `count` requests in one shell loop on a, echoed as typed, with a progress counter. */
  async pages(count: number, user?: string): Promise<PageResult[]> {
    // productpage ends its JSON with a newline, so each request prints two lines: the page, then curl's time.
    const loop = `for i in $(seq ${count}); do curl -sS --max-time 20 -H 'accept: application/json' -w '%{time_total}\\n' '${this.#url(user)}'; done`;
    this.#n.command('a', loop);
    const child = this.mesh.topo.spawn('a', 'bash', ['-c', loop], { stdio: ['ignore', 'pipe', 'pipe'] });
    const results: PageResult[] = [];
    let errors = '';
    child.stderr?.on('data', (c: Buffer) => (errors += c.toString()));
    const step = Math.max(1, Math.round(count / 20));
    let body: string | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      if (body === undefined) {
        body = line;
        continue;
      }
      try {
        results.push({ page: JSON.parse(body) as Page, seconds: Number(line) });
      } catch {
        errors += `not a page: ${body.slice(0, 200)}\n`;
      }
      body = undefined;
      if (results.length % step === 0) this.#n.tick(` ${results.length}`);
    }
    if (errors) throw new Error(`${count - results.length} of ${count} requests failed: ${errors.trim().split('\n').slice(0, 3).join('; ')}`);
    return results;
  }

  /** Polls `check` (every 250 ms, printing a dot a second) until it holds; throws after `timeoutMs`. */
  async until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let lastTick = started;
    for (;;) {
      if (await check().catch(() => false)) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs / 1000} s`);
      if (Date.now() - lastTick >= 1000) {
        this.#n.tick();
        lastTick = Date.now();
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Keeps what the daemons logged (they live in memory until now) beside the service logs. */
  saveDaemonLogs(): void {
    for (const host of ['a', 'b', 'c']) writeFileSync(join(this.#logDir, `ambitd-${host}.log`), this.mesh.logs(host));
  }

  async destroy(): Promise<void> {
    this.saveDaemonLogs();
    await this.mesh.destroy();
  }

  #url(user?: string): string {
    return user ? `${this.productpageUrl}?u=${encodeURIComponent(user)}` : this.productpageUrl;
  }

  async #startWorkload(w: Workload): Promise<void> {
    const h = this.mesh.topo.host(w.host);
    const address = this.address(w);
    const add = await this.mesh.topo.exec(w.host, 'ip', ['addr', 'add', `${address}/24`, 'dev', h.veth]);
    if (add.code !== 0) throw new Error(`ip addr add ${address} on ${w.host}: ${add.stderr.trim()}`);
    const script = new URL(`${w.service}.js`, SERVICES_DIR).pathname;
    const args = [
      script,
      '--address',
      address,
      '--port',
      String(SERVICE_PORT),
      '--uid',
      String(w.uid),
      ...(w.service === 'reviews' ? ['--version', w.version] : []),
    ];
    const child = this.mesh.topo.spawn(w.host, process.execPath, args, { env: { ...process.env, AMBIT_LOG_LEVEL: 'info' } });
    const log = createWriteStream(join(this.#logDir, `${workloadName(w)}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    await waitForOutput(child, /"msg":"listening"/, 20_000);
  }
}

function ambitCommandLine(args: string[]): string {
  return ['ambit', ...args].map(quote).join(' ');
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

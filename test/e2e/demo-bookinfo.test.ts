/**
 * The Bookinfo demo as a user runs it, non-interactively: every step must end
 * in PROOF lines that held, the run must exit 0, and nothing it built may be
 * left behind, also when it is interrupted with Ctrl-C halfway through setup.
 * (The interrupted run goes first, so the full run also shows that the demo
 * runs again after one.)
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { requireNetns } from '../helpers/netns-guard.js';
import { ipNetnsList } from '../helpers/netns-ip.js';
import { eventually } from '../helpers/eventually.js';

const DEMO = join(REPO_ROOT, 'dist/examples/bookinfo/demo.js');
const STEPS = [
  'mTLS between hosts',
  'A waypoint for reviews, and jason -> reviews v2',
  'Shift 20 % of reviews traffic to v2',
  'A 7 s delay for jason on ratings',
  'An AuthorizationPolicy blocks details',
  'ambit tunnels, ambit certs, metrics',
];

interface DemoRun {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs the demo with stdin not a terminal (so it never pauses); `interruptAt` sends SIGINT once the output matches. */
function runDemo(logs: string, interruptAt?: RegExp): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, '--yes', '--logs', logs], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let output = '';
    let interrupted = false;
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (interruptAt && !interrupted && interruptAt.test(output)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid!, code, signal, output }));
  });
}

function leftovers(pid: number): string[] {
  return ipNetnsList().filter((ns) => ns.startsWith(`amb-${pid}-`));
}

/** Bookinfo service processes still alive (any demo's: the tests in this file run one at a time). */
function serviceProcesses(): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    })
    .filter((cmd) => cmd.includes('/examples/bookinfo/services/'));
}

test.serial('Ctrl-C during setup (services running) removes everything the demo built', async (t) => {
  requireNetns();
  t.timeout(3 * 60_000);
  const logs = mkdtempSync(join(tmpdir(), 'ambit-demo-test-'));
  t.teardown(() => rmSync(logs, { recursive: true, force: true }));
  const run = await runDemo(logs, /\$ ambit enroll/);
  t.log(run.output.split('\n').slice(-4).join('\n'));
  t.is(run.code, 130, run.output);
  t.regex(run.output, /SIGINT: removing the demo's hosts, processes and rules/);
  t.deepEqual(leftovers(run.pid), [], 'network namespaces left behind');
  // SIGKILLed services are reaped by init once their parent is gone: give it a moment.
  await eventually(async () => serviceProcesses().length === 0, 5_000).catch(() => t.fail(`services still running: ${serviceProcesses().join('; ')}`));
});

test.serial('the demo runs every step non-interactively and each step proves what it shows', async (t) => {
  requireNetns();
  // Setup plus six steps, one of which waits out a 7 s delay more than once: minutes on a busy machine.
  t.timeout(6 * 60_000);
  const logs = mkdtempSync(join(tmpdir(), 'ambit-demo-test-'));
  t.teardown(() => rmSync(logs, { recursive: true, force: true }));
  const run = await runDemo(logs);
  t.log(
    run.output
      .split('\n')
      .filter((l) => /^(=== Step|PROOF|\d+ proofs)/.test(l))
      .join('\n'),
  );
  const sections = run.output.split(/^=== Step \d+\/\d+: /m).slice(1);
  t.deepEqual(
    sections.map((s) => STEPS.find((title) => s.startsWith(title)) ?? s.split('\n')[0]),
    STEPS,
    'the steps, in order',
  );
  for (const [i, section] of sections.entries()) {
    t.regex(section, /^PROOF ok: /m, `step ${i + 1} (${STEPS[i]}) proved something`);
    t.notRegex(section, /^PROOF FAIL/m, `step ${i + 1} (${STEPS[i]}): ${/^PROOF FAIL.*$/m.exec(section)?.[0]}`);
  }
  t.regex(run.output, /^\d+ proofs passed, 0 failed$/m);
  t.is(run.code, 0, run.output.slice(-3000));
  t.deepEqual(leftovers(run.pid), [], 'network namespaces left behind');
  await eventually(async () => serviceProcesses().length === 0, 5_000).catch(() => t.fail(`services still running: ${serviceProcesses().join('; ')}`));
});

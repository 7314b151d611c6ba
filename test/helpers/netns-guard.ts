// Whether this machine can run the netns e2e tests, and what to do when it cannot.
//
// A missing facility must never turn into a silent pass: by default the tests FAIL and
// say what is missing. Only AMBIT_SKIP_NETNS=1 turns that into a skip, and even then
// each skipped file prints which facility was missing, and ava counts the skips.

// No ava import here: ava's runtime refuses to load outside test files, and netns.ts
// (which uses this) must also serve plain scripts such as benchmarks.
import { execFileSync } from 'node:child_process';

export type NetnsProbe = { ok: true } | { ok: false; missing: string };

let cached: NetnsProbe | undefined;

/** Check, once per process, that we are root and can create a namespace and a bridge in it. */
export function probeNetns(): NetnsProbe {
  cached ??= runProbe();
  return cached;
}

function runProbe(): NetnsProbe {
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, missing: `root (running as uid ${uid ?? 'unknown'})` };
  // Named like a topology's namespaces so that sweepStale() also clears a crashed probe.
  const ns = `amb-${process.pid}-probe`;
  try {
    run(['netns', 'add', ns]);
    try {
      run(['-n', ns, 'link', 'add', 'probe0', 'type', 'bridge']);
      run(['-n', ns, 'link', 'add', 'probe1', 'type', 'veth', 'peer', 'name', 'probe2']);
    } finally {
      run(['netns', 'del', ns]);
    }
    return { ok: true };
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: unknown };
    if (err.code === 'ENOENT') return { ok: false, missing: "the 'ip' command (apt-get install iproute2)" };
    return { ok: false, missing: `working 'ip netns' with bridge and veth support (${(typeof err.stderr === 'string' ? err.stderr : err.message).trim()})` };
  }
}

function run(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export const skipRequested = (): boolean => process.env['AMBIT_SKIP_NETNS'] === '1';

function missingMessage(missing: string): string {
  const hint = skipRequested()
    ? 'AMBIT_SKIP_NETNS=1 is set, but only tests declared with netnsTest() can be skipped.'
    : 'Run them as root on Linux with iproute2, or set AMBIT_SKIP_NETNS=1 to skip them.';
  return `netns e2e tests need ${missing}. ${hint}`;
}

/** Throw (failing the test that calls it) with a clear message when netns is unusable. */
export function requireNetns(): void {
  const probe = probeNetns();
  if (!probe.ok) throw new Error(missingMessage(probe.missing));
}

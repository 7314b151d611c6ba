/**
 * The Bookinfo demo runner (run by examples/bookinfo/demo.sh, as root):
 * builds the mesh and deploys Bookinfo on it, walks through the steps, each
 * ending in PROOF lines measured on the spot, removes everything it made, and
 * exits non-zero when any proof failed.
 *
 *   node dist/examples/bookinfo/demo.js [--yes] [--logs DIR]
 *
 * --yes: never pause between steps (pauses happen only when stdin is a terminal).
 * --logs: where the services' and daemons' logs go (default $TMPDIR/ambit-bookinfo).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { probeNetns } from '../../test/helpers/netns-guard.js';
import { Bookinfo } from './runner/bookinfo.js';
import { Narrator } from './runner/narrator.js';
import type { Step } from './runner/step.js';
import { mtlsStep } from './runner/steps/mtls.js';
import { delayStep, jasonStep, shiftStep } from './runner/steps/routing.js';
import { authzStep } from './runner/steps/authz.js';
import { inspectStep } from './runner/steps/inspect.js';

const STEPS: Step[] = [mtlsStep, jasonStep, shiftStep, delayStep, authzStep, inspectStep];

function options(): { yes: boolean; logs: string } {
  try {
    const { values } = parseArgs({ options: { yes: { type: 'boolean', short: 'y' }, logs: { type: 'string' } }, strict: true });
    return { yes: values.yes ?? false, logs: values.logs ?? join(tmpdir(), 'ambit-bookinfo') };
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}; usage: demo.js [--yes] [--logs DIR]\n`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const opts = options();
  const probe = probeNetns();
  if (!probe.ok) {
    process.stderr.write(`demo: needs ${probe.missing}; run it as root: bash examples/bookinfo/demo.sh\n`);
    return 2;
  }
  const n = new Narrator({ interactive: Boolean(process.stdin.isTTY) && !opts.yes });
  rmSync(opts.logs, { recursive: true, force: true });
  mkdirSync(opts.logs, { recursive: true });

  let app: Bookinfo | undefined;
  // The netns helper kills every process in the demo's namespaces and deletes them when the
  // process exits, whatever the reason; here we only keep the logs and say what is happening.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stdout.write(`\n${signal}: removing the demo's hosts, processes and rules ...\n`);
      app?.saveDaemonLogs();
      if (app) rmSync(app.mesh.dir, { recursive: true, force: true });
      process.exit(code);
    });
  }

  n.heading('Bookinfo on ambit: setting up');
  try {
    app = await Bookinfo.start(n, opts.logs);
  } catch (err) {
    n.proof(false, `setup: ${(err as Error).message}`);
    return 1;
  }
  try {
    for (const [i, step] of STEPS.entries()) {
      await n.pause();
      n.heading(`Step ${i + 1}/${STEPS.length}: ${step.title}`);
      try {
        await step.run(app, n);
      } catch (err) {
        n.proof(false, `step ${i + 1} stopped: ${(err as Error).message}`);
      }
    }
  } finally {
    n.heading('Cleaning up');
    await app.destroy();
    n.say(`Removed the hosts, daemons, services and their rules. Logs: ${opts.logs}`);
  }
  const failed = n.failed.length;
  n.say(`\n${n.passed} proofs passed, ${failed} failed`);
  for (const f of n.failed) n.say(`  FAIL: ${f}`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();

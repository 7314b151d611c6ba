/**
 * `ambit`: the operator's CLI. Command modules register themselves here; each
 * loads its heavy dependencies (ioredis, yaml) only when it runs, so that
 * `ambit --help` stays fast.
 */
import { Command } from 'commander';
import { registerApply } from './commands/apply.js';
import { registerDelete } from './commands/delete.js';
import { registerGet } from './commands/get.js';
import { registerEnroll } from './commands/enroll.js';
import { registerVersion } from './commands/version.js';
import { registerTunnels } from './commands/tunnels.js';
import { registerCa } from './commands/ca.js';
import { registerNode } from './commands/node.js';
import { registerStore } from './commands/store.js';
import { registerCerts } from './commands/certs.js';
import { registerInstall } from './commands/install.js';
import { registerDoctor } from './commands/doctor.js';
import { registerWaypoint } from './commands/waypoint.js';
import { registerOperator } from './commands/operator.js';
import { registerPrometheus } from './commands/prometheus.js';
import { registerCompletion } from './commands/completion.js';
import { registerExplain } from './commands/explain.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerStat } from './commands/stat.js';
import { registerTap } from './commands/tap.js';
import { reportError } from './errors.js';
import { packageVersion } from '../core/version.js';

export function buildProgram(): Command {
  const program = new Command('ambit')
    .description('ambient service mesh for plain Linux hosts: mTLS tunnels, Istio policy, optional L7 waypoints')
    .version(packageVersion(), '-V, --version', 'print the ambit version')
    .option('--redis <url>', 'store URL (env AMBIT_REDIS_URL)', process.env.AMBIT_REDIS_URL ?? 'redis://127.0.0.1:6379')
    .option(
      '--operator-dir <dir>',
      'operator key directory: signs policy and enrollment changes (env AMBIT_OPERATOR_DIR; default /etc/ambit/operator)',
      process.env.AMBIT_OPERATOR_DIR,
    )
    .option('--debug', 'print stack traces on errors', false)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    // Usage errors (unknown option or command, missing argument) are thrown to reportError, which exits 2;
    // set before the commands are added, so that every subcommand inherits it.
    .exitOverride();
  registerApply(program);
  registerDelete(program);
  registerGet(program);
  registerEnroll(program);
  registerStore(program);
  registerCa(program);
  registerOperator(program);
  registerNode(program);
  registerWaypoint(program);
  registerCerts(program);
  registerTunnels(program);
  registerPrometheus(program);
  registerAnalyze(program);
  registerExplain(program);
  registerStat(program);
  registerTap(program);
  registerDoctor(program);
  registerInstall(program);
  registerVersion(program);
  registerCompletion(program);
  return program;
}

// `ambit ... | head` closes the pipe early: the reader has what it wanted, which is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = buildProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, Boolean(program.opts().debug));
}

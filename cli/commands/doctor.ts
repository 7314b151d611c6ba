/**
 * `ambit doctor`: checks this host the way an operator would by hand (root,
 * iptables and the kernel's capture support, ambitd and its ports, capture
 * rules, Redis, registration, clock, certificates, mesh DNS) and says what to
 * fix. Exit 1 when any check FAILs. Bounded: every check has a deadline.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { parseDurationSeconds } from '../duration.js';
import { outputFormat, renderJson, renderYaml, outputOption } from '../output.js';

/** daemon/config.ts DEFAULT_CONFIG_PATH, for the help text only: importing it loads the YAML parser, which `ambit --help` should not. */
const DEFAULT_CONFIG = '/etc/ambit/ambitd.yaml';

interface DoctorOptions {
  config?: string;
  certWarn?: string;
  output: string;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this host: root, iptables and kernel support, ambitd and its ports, capture rules, Redis, registration, clock, certificates, mesh DNS')
    .option('--config <file>', `ambitd settings file to judge the host by (default: env AMBIT_CONFIG, else ${DEFAULT_CONFIG} when it exists)`)
    .option('--cert-warn <duration>', "warn about certificates expiring within this (default: a quarter of each one's lifetime)")
    .addOption(outputOption(['table', 'json', 'yaml']))
    .addHelpText(
      'after',
      '\nThe store is the one in the settings file; a --redis given on the command line replaces it.\nExit status: 0 when no check FAILs, 1 otherwise.',
    )
    .action(async (opts: DoctorOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      if (opts.config !== undefined && !existsSync(opts.config))
        throw new UsageError(`--config ${opts.config}: no such file; give the settings file ambitd runs with`);
      const certWarnSeconds = opts.certWarn === undefined ? undefined : parseDurationSeconds(opts.certWarn, '--cert-warn');
      const [{ DoctorContext }, { CHECKS }, { runChecks }, report, { storeOptions }, { DEFAULT_CONFIG_PATH }] = await Promise.all([
        import('../doctor/context.js'),
        import('../doctor/checks/index.js'),
        import('../doctor/runner.js'),
        import('../doctor/format.js'),
        import('../store-client.js'),
        import('../../core/config/daemon-settings.js'),
      ]);
      const explicitRedis = cmd.parent?.getOptionValueSource('redis') === 'cli';
      const { username, password } = storeOptions(cmd.optsWithGlobals<{ redis: string }>().redis);
      const ctx = new DoctorContext({
        ...(username && password ? { fallbackCredentials: { username, password } } : {}),
        // The same file the commands that act on this host's node read (cli/this-node.ts).
        configPath: opts.config ?? (process.env.AMBIT_CONFIG || (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined)),
        ...(explicitRedis ? { redisOverride: storeOptions(cmd.optsWithGlobals<{ redis: string }>().redis) } : {}),
        probeTimeoutMs: 2000,
        ...(certWarnSeconds !== undefined ? { certWarnSeconds } : {}),
      });
      let reports;
      try {
        reports = await runChecks(CHECKS, ctx);
      } finally {
        await ctx.close();
      }
      if (format === 'json') process.stdout.write(renderJson(report.reportJson(reports)));
      else if (format === 'yaml') process.stdout.write(await renderYaml([report.reportJson(reports)]));
      else process.stdout.write(report.renderReport(reports));
      process.exitCode = report.failed(reports) ? 1 : 0;
    });
}

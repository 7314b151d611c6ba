import type { Command } from 'commander';
import { packageVersion } from '../../core/version.js';
import { outputOption } from '../output.js';

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the ambit version and runtime')
    .addOption(outputOption(['text', 'json']))
    .action((opts: { output: string }) => {
      const info = { ambit: packageVersion(), node: process.version, platform: `${process.platform}/${process.arch}` };
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(info, null, 2)}\n` : `ambit ${info.ambit} (node ${info.node}, ${info.platform})\n`);
    });
}

/** `ambit completion bash|zsh`: print a completion script for the commands this ambit has (cli/completion.ts). */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(ambit completion bash), or zsh')
    .argument('<shell>', SHELLS.join(' or '))
    .action((shell: string) => {
      if (!SHELLS.includes(shell as Shell)) throw new UsageError(`unknown shell ${JSON.stringify(shell)}: use ${SHELLS.join(' or ')}`);
      process.stdout.write(completionScript(program, shell as Shell));
    });
}

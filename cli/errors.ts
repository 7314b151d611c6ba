/**
 * How the CLI ends: one readable line on stderr and an exit status scripts can
 * branch on. 0: done. 1: the command was well formed but failed at run time
 * (store unreachable or refusing, not found, a signature that does not check
 * out). 2: the command line or the input it named is wrong (unknown option or
 * command, missing argument, bad flag value, a document or settings file that
 * does not validate): nothing was changed, fix the input and run it again.
 */
import { CommanderError } from 'commander';
import { AmbitError, ConfigError, ConfigErrors, UsageError } from '../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Prints an error (the stack only with --debug) and returns the exit status. */
export function reportError(err: unknown, debug: boolean): number {
  // commander has printed its own message (and the help hint) already; help and --version end with 0.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof AmbitError ? ` [${err.code}]` : '';
  process.stderr.write(`error: ${firstLine(message)}${debug ? code : ''}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return isBadInput(err) ? EXIT_USAGE : EXIT_FAILURE;
}

function isBadInput(err: unknown): boolean {
  return err instanceof UsageError || err instanceof ConfigError || err instanceof ConfigErrors;
}

/**
 * Multi-problem config errors keep their list (one problem per line, already
 * indented); anything else is folded to one line.
 */
function firstLine(message: string): string {
  return message.includes('\n  ') ? message : message.replace(/\s*\n\s*/g, ' ');
}

import { AmbitError, UsageError } from '../core/errors.js';

/**
 * Prints an error as one readable line (the stack only with --debug) and
 * returns the exit code: 2 for usage errors, 1 for everything else.
 */
export function reportError(err: unknown, debug: boolean): number {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof AmbitError ? ` [${err.code}]` : '';
  process.stderr.write(`error: ${firstLine(message)}${debug ? code : ''}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return err instanceof UsageError ? 2 : 1;
}

/**
 * Multi-problem config errors keep their list (one problem per line, already
 * indented); anything else is folded to one line.
 */
function firstLine(message: string): string {
  return message.includes('\n  ') ? message : message.replace(/\s*\n\s*/g, ' ');
}

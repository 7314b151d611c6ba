/**
 * What install and uninstall do to a host, as a list decided up front and
 * then either carried out or (with --dry-run) printed in full: every file
 * with its content, every command. One line of output per step, so a run
 * reads as a record of what changed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { AmbitError } from '../../core/errors.js';
import { writeFileSecure } from '../../core/identity/files.js';

export type HostChange =
  | { kind: 'mkdir'; path: string; mode: number }
  /** `verb` says why: "wrote" a new file, "updated" ours, "replaced" an edited one. */
  | { kind: 'write'; path: string; content: string; mode: number; verb: 'wrote' | 'updated' | 'replaced' }
  | { kind: 'remove'; path: string }
  /** A directory install created: removed only once nothing else is left in it. */
  | { kind: 'rmdir-if-empty'; path: string }
  | { kind: 'run'; command: string; args: string[] }
  /** Nothing to do, and why (unchanged, kept, absent, a next step). */
  | { kind: 'say'; text: string };

export type Print = (line: string) => void;

const octal = (mode: number): string => `0${mode.toString(8)}`;

export async function applyHostChanges(changes: HostChange[], options: { dryRun: boolean; print: Print }): Promise<void> {
  const { dryRun, print } = options;
  for (const c of changes) {
    switch (c.kind) {
      case 'say':
        print(c.text);
        break;
      case 'mkdir':
        if (dryRun) print(`would create directory ${c.path} (${octal(c.mode)})`);
        else {
          await mkdir(c.path, { mode: c.mode });
          print(`created directory ${c.path}`);
        }
        break;
      case 'write':
        if (dryRun) {
          print(
            `would write ${c.path} (${octal(c.mode)}, ${c.verb === 'wrote' ? 'new' : c.verb === 'updated' ? 'changed' : 'replacing an edited file: --force'}):`,
          );
          print(`--- begin ${c.path}`);
          print(c.content.replace(/\n$/, ''));
          print(`--- end ${c.path}`);
        } else {
          await writeFileSecure(c.path, c.content, { mode: c.mode, overwrite: true });
          print(`${c.verb} ${c.path} (${octal(c.mode)})`);
        }
        break;
      case 'remove':
        if (dryRun) print(`would remove ${c.path}`);
        else {
          await rm(c.path, { recursive: true, force: true });
          print(`removed ${c.path}`);
        }
        break;
      case 'rmdir-if-empty':
        if (dryRun) print(`would remove directory ${c.path} if nothing else is left in it`);
        else if ((await readdir(c.path).catch(() => undefined))?.length === 0) {
          // Only tidying: a directory that cannot go (a mount point, say) is worth a line, not a failure.
          await rmdir(c.path).then(
            () => print(`removed directory ${c.path} (created by ambit install)`),
            (err: NodeJS.ErrnoException) => print(`kept directory ${c.path} (created by ambit install): ${err.code ?? err.message}`),
          );
        }
        break;
      case 'run':
        if (dryRun) print(`would run: ${commandLine(c)}`);
        else run(c, print);
        break;
    }
  }
}

function commandLine(c: { command: string; args: string[] }): string {
  return [c.command, ...c.args].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(' ');
}

function run(c: { command: string; args: string[] }, print: Print): void {
  print(`running: ${commandLine(c)}`);
  const r = spawnSync(c.command, c.args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new AmbitError('EINSTALL_COMMAND', `${commandLine(c)} could not run: ${r.error.message}`, { command: c.command });
  if (r.status !== 0)
    throw new AmbitError(
      'EINSTALL_COMMAND',
      `${commandLine(c)} failed (${r.status === null ? `signal ${r.signal}` : `exit ${r.status}`}); see its output above`,
      { command: c.command },
    );
}

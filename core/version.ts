/**
 * The package version, read from package.json once: what `ambit version` prints,
 * what ambitd reports in its heartbeat and what ambit-waypoint logs, so the three
 * binaries of one install never disagree (dist/core/ sits two levels below the
 * package root, as core/ does in a checkout run through tsc).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached === undefined) {
    const file = fileURLToPath(new URL('../../package.json', import.meta.url));
    cached = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return cached;
}

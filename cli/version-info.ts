import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The version in package.json (dist/cli/ sits two levels below the package root). */
export function packageVersion(): string {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

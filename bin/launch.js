// Loads a compiled entry point from dist/, or says how to build it: a fresh
// clone has no dist/ until `npm ci` (which runs prepare) or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

export async function launch(entry) {
  const file = join(root, 'dist', entry);
  if (!existsSync(file)) {
    process.stderr.write(`ambit is not built (${file} is missing): run 'npm ci' or 'npm run build' in ${root}\n`);
    process.exit(2);
  }
  await import(pathToFileURL(file).href);
}

/** The Node.js running ambit against package.json's engines field (">=20.19"). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail, ok, type Check } from '../check.js';

/** [major, minor] from engines.node; dist/cli/doctor/checks/ sits four levels below the package root. */
export function requiredNode(): [number, number] {
  const file = fileURLToPath(new URL('../../../../package.json', import.meta.url));
  const spec = (JSON.parse(readFileSync(file, 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '';
  const m = /^>=\s*(\d+)\.(\d+)/.exec(spec);
  if (!m) throw new Error(`package.json engines.node is ${JSON.stringify(spec)}, not ">=major.minor"`);
  return [Number(m[1]), Number(m[2])];
}

/** True when `version` ("v20.19.1" or "20.19.1") is at least `min`. */
export function nodeVersionSupported(version: string, min: readonly [number, number]): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

export const nodeVersionCheck: Check = {
  name: 'node-version',
  run: async () => {
    const min = requiredNode();
    const version = process.version;
    if (nodeVersionSupported(version, min)) return ok(`Node.js ${version} (${process.execPath})`);
    return fail(`Node.js ${version} is older than ${min.join('.')}, which ambit needs`, `install Node.js ${min.join('.')} or newer and put it first on PATH`);
  },
};

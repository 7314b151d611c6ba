/**
 * Where `ambit install` reads from (this copy of ambit) and writes to (the
 * target host, optionally under --root, like DESTDIR). Paths written into the
 * unit are the host's paths; only the files themselves go under the root.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_PATH } from '../../core/config/daemon-settings.js';
import { DEFAULT_NODE_DIR } from '../../core/identity/client/node-dir.js';

/** The package root: dist/cli/install/ sits three levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

export const SOURCES = {
  ambitd: join(PACKAGE_ROOT, 'bin/ambitd.js'),
  configTemplate: join(PACKAGE_ROOT, 'configs/ambitd.yaml'),
  unitTemplate: join(PACKAGE_ROOT, 'configs/ambitd.service'),
};

/** The host's paths (as the running daemon and systemd see them). */
export const TARGETS = {
  configDir: '/etc/ambit',
  config: DEFAULT_CONFIG_PATH,
  caDir: '/etc/ambit/ca',
  unitDir: '/etc/systemd/system',
  unit: '/etc/systemd/system/ambitd.service',
  stateDir: DEFAULT_NODE_DIR,
};

export const UNIT_NAME = 'ambitd';

/** A host path as a file under `root` ("/" is the host itself). */
export function underRoot(root: string, hostPath: string): string {
  return root === '/' ? hostPath : join(root, hostPath);
}

/** --root as an absolute path; "/" when not given. */
export function resolveRoot(root: string | undefined): string {
  if (!root) return '/';
  const abs = isAbsolute(root) ? root : resolve(root);
  return abs === '/' ? '/' : abs.replace(/\/+$/, '');
}

/**
 * Which node "this host" is, for the commands that act on it (`enroll`,
 * `unenroll`, `waypoint attach`, `node join`) when no `--node` is given: the
 * name ambitd on this host runs under, so that an enrollment lands on the node
 * whose daemon captures it. In order: AMBIT_NODE, `node.name` in ambitd's
 * settings file (AMBIT_CONFIG, else /etc/ambit/ambitd.yaml when it exists),
 * the hostname (ambitd's own default).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UsageError } from '../core/errors.js';

/** The same path as core/config/daemon-settings.ts DEFAULT_CONFIG_PATH; importing that loads the YAML parser at startup. */
const DEFAULT_CONFIG = '/etc/ambit/ambitd.yaml';

export const THIS_NODE_HELP = `default: this host's node (AMBIT_NODE, else node.name in ambitd.yaml, else the hostname ${hostname()})`;

export interface ThisNode {
  name: string;
  /** Where the name came from, for messages. */
  from: string;
}

export async function thisNode(env: NodeJS.ProcessEnv = process.env): Promise<ThisNode> {
  if (env.AMBIT_NODE) return { name: env.AMBIT_NODE, from: 'AMBIT_NODE' };
  const file = env.AMBIT_CONFIG ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  if (file) {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file} (${err.code ?? err.message}) to learn this host's node name: pass --node NAME or set AMBIT_NODE`);
    });
    const { parseDaemonConfig } = await import('../core/config/daemon-settings.js');
    // The daemon's own parser (the text only, not the secrets it names): the name it would run under, or the file:line it would refuse.
    return { name: parseDaemonConfig(text, file).node.name, from: file };
  }
  return { name: hostname(), from: 'the hostname' };
}

/** `--node` when given, else this host's node. */
export async function nodeOrThisHost(given: string | undefined): Promise<ThisNode> {
  return given ? { name: given, from: '--node' } : thisNode();
}

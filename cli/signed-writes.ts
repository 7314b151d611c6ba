/**
 * The operator key for a CLI write that changes security (policy,
 * enrollments). Once the mesh has a CA (a trust bundle in the store), daemons
 * accept such changes only under a manifest signed by an operator, so a
 * missing key is an error here, before anything is written, rather than a
 * change every daemon would refuse. Before `ambit ca init` there is nothing to
 * verify with, and writes stay unsigned. Identity code is imported only here,
 * so commands that write nothing security-relevant do not load it.
 */
import type { Command } from 'commander';
import type { Operator } from '../core/identity/operator.js';
import type { Store } from '../core/store/index.js';
import { operatorDir } from './commands/operator.js';

export async function operatorFor(cmd: Command, store: Store): Promise<Operator | undefined> {
  const [{ loadOperator }, { readBundle }] = await Promise.all([import('../core/identity/operator.js'), import('../core/identity/store/bundle.js')]);
  try {
    return await loadOperator(operatorDir(cmd));
  } catch (err) {
    if ((err as { code?: string }).code === 'EIDENTITY_NO_OPERATOR_KEY' && !(await readBundle(store))) return undefined;
    throw err;
  }
}

export async function writers(): Promise<typeof import('../core/identity/manifest/writer.js')> {
  return import('../core/identity/manifest/writer.js');
}

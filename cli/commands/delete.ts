import type { Command } from 'commander';
import type { ResourceRef } from '../../core/config/resource.js';
import { refOf } from '../../core/config/resource.js';
import { UsageError } from '../../core/errors.js';
import { withStore } from '../store-client.js';
import { displayName, resourceKind } from '../kinds.js';
import { readInputs } from '../inputs.js';
import { collect } from './apply.js';
import { operatorFor, writers } from '../signed-writes.js';
import { SECURITY_KIND_NAMES } from '../kinds.js';

interface DeleteOptions {
  filename: string[];
  namespace: string;
  ignoreNotFound: boolean;
}

export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete resources named in files, or KIND NAME…; all go or none do')
    .argument('[kind]', 'resource kind (e.g. virtualservice, dr, authorizationpolicy)')
    .argument('[names...]', 'resource names')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--ignore-not-found', 'succeed even when a resource does not exist', false)
    .action(async (kind: string | undefined, names: string[], opts: DeleteOptions, cmd: Command) => {
      const refs = await targets(kind, names, opts);
      const options = { ignoreNotFound: opts.ignoreNotFound };
      const result = await withStore(cmd, async (store) => {
        if (!refs.some((r) => SECURITY_KIND_NAMES.has(r.kind))) return store.delete(refs, options);
        const operator = await operatorFor(cmd, store);
        return operator ? (await writers()).signedDelete(store, operator, refs, options) : store.delete(refs, options);
      });
      for (const ref of result.deleted) process.stdout.write(`${displayName(ref.kind, ref.name)} deleted\n`);
    });
}

async function targets(kind: string | undefined, names: string[], opts: DeleteOptions): Promise<ResourceRef[]> {
  if (opts.filename.length > 0) {
    if (kind) throw new UsageError('give either -f FILE or KIND NAME, not both');
    return (await readInputs(opts.filename, opts.namespace)).map(refOf);
  }
  if (!kind || names.length === 0) throw new UsageError('nothing to delete: give -f FILE or KIND NAME…');
  const resolved = resourceKind(kind);
  return names.map((name) => ({ kind: resolved, namespace: opts.namespace, name }));
}

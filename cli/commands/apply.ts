import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { withStore } from '../store-client.js';
import { displayName } from '../kinds.js';
import { readInputs } from '../inputs.js';
import { allocateServiceEntryVips } from '../service-entry-vips.js';
import { operatorFor, writers } from '../signed-writes.js';
import { SECURITY_KIND_NAMES } from '../kinds.js';

interface ApplyOptions {
  filename: string[];
  namespace: string;
  dryRun: boolean;
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('create or update resources from Istio/ambit YAML; all documents apply or none do')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable; required)', collect, [])
    .option('-n, --namespace <ns>', 'namespace for documents that name none', 'default')
    .option('--dry-run', 'validate only; change nothing', false)
    .action(async (opts: ApplyOptions, cmd: Command) => {
      if (opts.filename.length === 0) throw new UsageError('nothing to apply: give -f FILE, -f DIR or -f - (standard input) with Istio or ambit YAML');
      const resources = await readInputs(opts.filename, opts.namespace);
      if (opts.dryRun) {
        for (const r of resources) process.stdout.write(`${displayName(r.kind, r.metadata.name)} valid (dry run)\n`);
        return;
      }
      const result = await withStore(cmd, async (store) => {
        const all = await allocateServiceEntryVips(store, resources);
        if (!all.some((r) => SECURITY_KIND_NAMES.has(r.kind))) return store.apply(all);
        const operator = await operatorFor(cmd, store);
        return operator ? (await writers()).signedApply(store, operator, all) : store.apply(all);
      });
      for (const { ref, action } of result.results) process.stdout.write(`${displayName(ref.kind, ref.name)} ${action}\n`);
    });
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `ambit certs`: every live certificate the signers issued, from the store's records. */
import type { Command } from 'commander';
import { humanSeconds } from '../duration.js';
import { listOf, outputFormat, outputOption, renderData, renderTable } from '../output.js';
import { withStore } from '../store-client.js';

/** ISO time to the second: what a table needs. */
function when(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('issued node and workload certificates: identity, serial, validity, remaining life, root')
    .option('--node <name>', "only this node's certificates")
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { node?: string; output: string }, cmd: Command) => {
      const format = outputFormat(opts.output);
      const { listIssued } = await import('../../core/identity/store/issued.js');
      const records = await withStore(cmd, (store) => listIssued(store, opts.node ? { node: opts.node } : {}));
      const now = Date.now();
      const rows = records.map((r) => ({ ...r, remainingSeconds: Math.floor((Date.parse(r.notAfter) - now) / 1000) }));
      if (format !== 'table') {
        process.stdout.write(await renderData(listOf(rows), format));
        return;
      }
      if (rows.length === 0) {
        process.stderr.write(`no certificates${opts.node ? ` for node ${opts.node}` : ''}\n`);
        return;
      }
      process.stdout.write(
        renderTable(
          ['NODE', 'IDENTITY', 'SERIAL', 'NOT-BEFORE', 'NOT-AFTER', 'REMAINING', 'ROOT'],
          rows.map((r) => [r.node, r.spiffeId, r.serial, when(r.notBefore), when(r.notAfter), humanSeconds(r.remainingSeconds), r.root.slice(0, 11)]),
        ),
      );
    });
}

import type { Command } from 'commander';
import { withStore } from '../store-client.js';
import { age, humanBytes, listOf, outputFormat, outputOption, renderData, renderTable } from '../output.js';

export function registerTunnels(program: Command): void {
  program
    .command('tunnels')
    .description("show live HBONE tunnels reported by each node's daemon")
    .option('--node <name>', 'only this node')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { node?: string; output: string }, cmd: Command) => {
      const format = outputFormat(opts.output);
      const { reports, invalid } = await withStore(cmd, (store) => store.nodeStatuses());
      for (const bad of invalid) process.stderr.write(`warning: node ${bad.node}'s status report is unreadable and is left out: ${bad.reason}\n`);
      const rows = [...reports]
        .filter(([node]) => !opts.node || node === opts.node)
        .flatMap(([node, report]) => report.tunnels.outbound.map((t) => ({ node, ...t })));
      if (format !== 'table') return void process.stdout.write(await renderData(listOf(rows), format));
      if (rows.length === 0) return void process.stdout.write(`No live tunnels${opts.node ? ` on node ${opts.node}` : ''}.\n`);
      process.stdout.write(
        renderTable(
          ['NODE', 'SOURCE', 'DESTINATION', 'PEER', 'STREAMS', 'SENT', 'RECEIVED', 'AGE'],
          rows.map((t) => [
            t.node,
            shortId(t.source),
            shortId(t.serverIdentity ?? '-'),
            t.peer,
            `${t.streamsActive}/${t.streamsTotal}`,
            humanBytes(t.bytesSent),
            humanBytes(t.bytesReceived),
            age(t.openedAt),
          ]),
        ),
      );
    });
}

/** spiffe://cluster.local/ns/default/sa/productpage -> cluster.local/ns/default/sa/productpage (Istio's principal form). */
function shortId(id: string): string {
  return id.replace(/^spiffe:\/\//, '');
}

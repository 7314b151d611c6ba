/**
 * `ambit stat [SERVICE]`: golden metrics per service, or per edge with --from,
 * like `linkerd viz stat`: from Prometheus with --prometheus, else straight
 * from the daemons' and this node's waypoints' /metrics, scraped --window
 * apart (cli/stat/). `--window 0` reads totals since the proxies started.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { parseDurationSeconds } from '../duration.js';
import { outputFormat, outputOption, renderData } from '../output.js';
import { parsePort } from '../port.js';
import { withStore } from '../store-client.js';
import { nodeOrThisHost, THIS_NODE_HELP } from '../this-node.js';
import type { StatQuery } from '../stat/golden.js';

interface StatOptions {
  namespace?: string;
  from?: string;
  edges?: boolean;
  output: string;
  window: string;
  prometheus?: string;
  daemonPort: string;
  node?: string;
}

export function registerStat(program: Command): void {
  program
    .command('stat')
    .description('golden metrics (success rate, req/s, p50/p95/p99 latency, TCP connections and bytes) per service, or per edge with --from')
    .argument('[service]', 'only this service (its short name; -n gives the namespace)')
    .option('-n, --namespace <ns>', 'namespace of SERVICE and --from (default: default when either is given, else every namespace)')
    .option('--from <service>', "only traffic from this service's workloads, one row per calling workload")
    .option('--edges', 'one row per (service, calling workload) even without --from')
    .option('--window <duration>', 'measure over this long (two scrapes apart, or PromQL increase over it); 0: totals since the proxies started', '1m')
    .option('--prometheus <url>', "read Prometheus's istio_* series (e.g. http://127.0.0.1:9090) instead of scraping the proxies")
    .option('--daemon-port <port>', "without --prometheus: the daemons' metrics port (ambitd.yaml ports.metrics)", '15020')
    .option('--node <name>', `without --prometheus: the node whose waypoints are scraped at 127.0.0.1 (${THIS_NODE_HELP})`)
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (service: string | undefined, opts: StatOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      const windowSeconds = opts.window === '0' || opts.window === '0s' ? 0 : parseDurationSeconds(opts.window, '--window');
      const daemonPort = parsePort(opts.daemonPort);
      if (opts.prometheus !== undefined && !/^https?:\/\//.test(opts.prometheus)) {
        throw new UsageError(`--prometheus ${JSON.stringify(opts.prometheus)}: give Prometheus's base URL, e.g. http://127.0.0.1:9090`);
      }
      const namespace = opts.namespace ?? (service !== undefined || opts.from !== undefined ? 'default' : undefined);
      const query: StatQuery = {
        windowSeconds,
        ...(service !== undefined ? { service } : {}),
        ...(namespace !== undefined ? { namespace } : {}),
        ...(opts.from !== undefined ? { from: opts.from } : {}),
        ...(opts.edges ? { edges: true } : {}),
      };
      const [{ goldenMetrics }, increases] = await Promise.all([
        import('../stat/golden.js'),
        opts.prometheus !== undefined ? prometheusIncreases(opts.prometheus, query) : proxyIncreases(cmd, opts.node, daemonPort, windowSeconds),
      ]);
      const rows = goldenMetrics(increases, query);
      const source = opts.prometheus !== undefined ? `prometheus ${opts.prometheus}` : 'proxies';
      if (format !== 'table') return void process.stdout.write(await renderData({ windowSeconds, source, rows }, format));
      const { renderStat } = await import('../stat/render.js');
      process.stdout.write(renderStat(rows, windowSeconds));
    });
}

async function prometheusIncreases(url: string, query: StatQuery) {
  const { queryIncreases } = await import('../stat/prometheus-source.js');
  return queryIncreases(url, query);
}

async function proxyIncreases(cmd: Command, node: string | undefined, daemonPort: number, windowSeconds: number) {
  const [{ scrapeIncreases }, here] = await Promise.all([import('../stat/scrape.js'), nodeOrThisHost(node)]);
  const [nodes, endpoints] = await withStore(cmd, (store) => Promise.all([store.listNodes(), store.listEndpoints()]));
  return scrapeIncreases(nodes, endpoints, {
    daemonPort,
    node: here.name,
    windowSeconds,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
}

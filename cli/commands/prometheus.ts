/**
 * `ambit prometheus sd`: Prometheus service discovery from the store. Prints the
 * file_sd JSON of every live node's ambitd (cli/prometheus-targets.ts), or
 * writes it to --file; with --watch it keeps the file up to date, rewriting it
 * only when the targets change, and always by rename so Prometheus never reads
 * half a file; --http serves the same document for Prometheus's HTTP SD. Node
 * liveness is a heartbeat TTL, not a store change, so both poll. A store that
 * stops answering keeps the last targets in place.
 */
import type { Command } from 'commander';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { basename, dirname, join } from 'node:path';
import type { Store } from '../../core/store/index.js';
import { UsageError } from '../../core/errors.js';
import { parseDurationSeconds } from '../duration.js';
import { scrapeTargets } from '../prometheus-targets.js';
import { withStore } from '../store-client.js';
import { parsePort } from '../port.js';

interface SdOptions {
  file?: string;
  watch?: boolean;
  interval: string;
  daemonPort: string;
  node?: string;
  waypoints?: boolean;
  http?: string;
}

export function registerPrometheus(program: Command): void {
  const prometheus = program.command('prometheus').description('Prometheus integration');
  prometheus
    .command('sd')
    .description("file_sd targets for every node's ambitd (and with --node, that node's waypoints), from the store")
    .option('-f, --file <path>', 'write the JSON here (atomically, by rename) instead of to stdout')
    .option('-w, --watch', 'keep --file up to date until interrupted')
    .option('--interval <duration>', 'with --watch: how often to read the store', '10s')
    .option('--daemon-port <port>', "the daemons' metrics port (ambitd.yaml ports.metrics)", '15020')
    .option('--node <name>', "only this node's daemon, and its waypoints at 127.0.0.1 (for a Prometheus on that node)")
    .option(
      '--waypoints',
      "also every node's waypoints at the node's address, for daemons whose ambitd.yaml sets waypointMetricsAddress to it or 0.0.0.0 (with --node: at that address, not 127.0.0.1)",
    )
    .option('--http <host:port>', "serve the targets for Prometheus's http_sd_configs until interrupted, kept current like --watch (and --file with them)")
    .action(async (opts: SdOptions, cmd: Command) => {
      if (opts.watch && !opts.file) throw new UsageError('--watch needs --file: it keeps a file up to date');
      const listen = opts.http === undefined ? undefined : hostPort(opts.http);
      const daemonPort = parsePort(opts.daemonPort);
      const intervalMs = parseDurationSeconds(opts.interval, '--interval') * 1000;
      const render = async (store: Store) =>
        `${JSON.stringify(
          scrapeTargets(await store.listNodes(), await store.listEndpoints(), {
            daemonPort,
            ...(opts.node ? { node: opts.node } : {}),
            ...(opts.waypoints ? { waypoints: true } : {}),
          }),
          null,
          2,
        )}\n`;
      await withStore(cmd, async (store) => {
        const first = await render(store);
        if (!opts.file && !listen) return void process.stdout.write(first);
        if (opts.file) await writeAtomically(opts.file, first);
        if (!opts.watch && !listen) return;
        let current = first;
        const server = listen && (await serveTargets(listen, () => current));
        try {
          await follow(store, first, render, intervalMs, async (next) => {
            current = next;
            if (opts.file) await writeAtomically(opts.file, next);
          });
        } finally {
          if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });
    });
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

/** Calls `changed` whenever the targets change, until SIGINT or SIGTERM (a refresh under way finishes first). */
async function follow(
  store: Store,
  first: string,
  render: (s: Store) => Promise<string>,
  intervalMs: number,
  changed: (text: string) => Promise<void>,
): Promise<void> {
  let last = first;
  const stopped = new Promise<true>((resolve) => {
    process.once('SIGINT', () => resolve(true));
    process.once('SIGTERM', () => resolve(true));
  });
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stop = await Promise.race([stopped, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), intervalMs)))]);
    clearTimeout(timer);
    if (stop) return;
    try {
      const next = await render(store);
      if (next !== last) {
        await changed(next);
        last = next;
      }
    } catch (err) {
      process.stderr.write(`warning: could not refresh the targets (the last ones are kept): ${(err as Error).message}\n`);
    }
  }
}

function hostPort(value: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
  if (!m || !m[1]) throw new UsageError(`--http ${JSON.stringify(value)}: expected host:port, e.g. 127.0.0.1:9469`);
  return { host: m[1], port: parsePort(m[2]!) };
}

/** Prometheus HTTP SD: GET answers the current targets as JSON (the same document as the file). */
async function serveTargets(at: { host: string; port: number }, current: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(current());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  return server;
}

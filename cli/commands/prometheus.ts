/**
 * `ambit prometheus sd`: Prometheus service discovery from the store. Prints the
 * file_sd JSON of every live node's ambitd (cli/prometheus-targets.ts), or
 * writes it to --file; with --watch it keeps the file up to date, rewriting it
 * only when the targets change, and always by rename so Prometheus never reads
 * half a file. Node liveness is a heartbeat TTL, not a store change, so the
 * watch polls. A store that stops answering keeps the last file in place.
 */
import type { Command } from 'commander';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Store } from '../../core/store/index.js';
import { UsageError } from '../../core/errors.js';
import { parseDurationSeconds } from '../duration.js';
import { scrapeTargets } from '../prometheus-targets.js';
import { withStore } from '../store-client.js';
import { parsePort } from './enroll.js';

interface SdOptions {
  file?: string;
  watch?: boolean;
  interval: string;
  daemonPort: string;
  node?: string;
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
    .action(async (opts: SdOptions, cmd: Command) => {
      if (opts.watch && !opts.file) throw new UsageError('--watch needs --file: it keeps a file up to date');
      const daemonPort = parsePort(opts.daemonPort);
      const intervalMs = parseDurationSeconds(opts.interval, '--interval') * 1000;
      const render = async (store: Store) =>
        `${JSON.stringify(scrapeTargets(await store.listNodes(), await store.listEndpoints(), { daemonPort, ...(opts.node ? { node: opts.node } : {}) }), null, 2)}\n`;
      await withStore(cmd, async (store) => {
        const first = await render(store);
        if (!opts.file) return void process.stdout.write(first);
        await writeAtomically(opts.file, first);
        if (opts.watch) await watch(store, opts.file, first, render, intervalMs);
      });
    });
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

/** Rewrites `file` whenever the targets change, until SIGINT or SIGTERM (a refresh under way finishes first). */
async function watch(store: Store, file: string, written: string, render: (s: Store) => Promise<string>, intervalMs: number): Promise<void> {
  let last = written;
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
        await writeAtomically(file, next);
        last = next;
      }
    } catch (err) {
      process.stderr.write(`warning: could not refresh ${file} (kept as it was): ${(err as Error).message}\n`);
    }
  }
}

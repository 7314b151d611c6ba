/**
 * Trace backends for the tracing tests, on 127.0.0.1: an OTLP/HTTP protobuf
 * receiver in its own process (test/fixtures/otlp-receiver.ts, decoding with
 * protobufjs, killable mid-run) and a Zipkin v2 JSON receiver (node:http in
 * the test process). Both keep the spans they got, in the shape each wire
 * format gives them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { REPO_ROOT } from './cli.js';

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: string;
  status: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: OtlpSpan[];
  /** Bodies that did not decode. */
  errors: string[];
  kill(): Promise<void>;
}

const RECEIVER = fileURLToPath(new URL('../fixtures/otlp-receiver.js', import.meta.url));
const PROTO = join(REPO_ROOT, 'test/fixtures/otlp-trace.proto');
const ZIPKIN_RECEIVER = fileURLToPath(new URL('../fixtures/zipkin-receiver.js', import.meta.url));

/** Where to run a receiver process: in a netns host (`spawn` starts node there), listening on that host's address. */
export type ReceiverHost = { host: string; spawn: (cmd: string, args: string[]) => ChildProcess };

/**
 * A receiver process: `args` run by node (in `at`, or here), printing {"port"} once it listens,
 * then one JSON line per span ({"error"} for a request it could not decode).
 */
async function receiverProcess<S>(
  t: Pick<ExecutionContext, 'teardown'>,
  what: string,
  args: string[],
  at: ReceiverHost | undefined,
): Promise<{ port: number; spans: S[]; errors: string[]; kill: () => Promise<void> }> {
  const child = at ? at.spawn(process.execPath, [...args, at.host]) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const spans: S[] = [];
  const errors: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${what} receiver exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { port?: number; error?: string };
      if (msg.port !== undefined) resolve(msg.port);
      else if (msg.error !== undefined) errors.push(msg.error);
      else spans.push(msg as S);
    });
  });
  return {
    port,
    spans,
    errors,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `at`: run it in a netns host, listening on that host's address; by default here, on 127.0.0.1. */
export async function startOtlpReceiver(t: Pick<ExecutionContext, 'teardown'>, at: ReceiverHost | undefined = undefined): Promise<OtlpReceiver> {
  const r = await receiverProcess<OtlpSpan>(t, 'OTLP', [RECEIVER, PROTO], at);
  return { endpoint: `http://${at?.host ?? '127.0.0.1'}:${r.port}/v1/traces`, spans: r.spans, errors: r.errors, kill: r.kill };
}

/** A span as Zipkin v2 JSON carries it. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

export interface ZipkinReceiver {
  endpoint: string;
  spans: ZipkinSpan[];
}

/**
 * In this process, on 127.0.0.1; with `at`, a process in a netns host (test/fixtures/zipkin-receiver.ts)
 * that daemons and waypoints in other namespaces can reach.
 */
export async function startZipkinReceiver(t: Pick<ExecutionContext, 'teardown'>, at: ReceiverHost | undefined = undefined): Promise<ZipkinReceiver> {
  if (at) {
    const r = await receiverProcess<ZipkinSpan>(t, 'Zipkin', [ZIPKIN_RECEIVER], at);
    return { endpoint: `http://${at.host}:${r.port}/api/v2/spans`, spans: r.spans };
  }
  const spans: ZipkinSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v2/spans') return void res.writeHead(404).end();
      spans.push(...(JSON.parse(Buffer.concat(chunks).toString()) as ZipkinSpan[]));
      res.writeHead(202).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`, spans };
}

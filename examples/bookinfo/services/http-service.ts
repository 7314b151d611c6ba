/**
 * What every Bookinfo service shares: its flags (--address, --port, --uid and
 * its own), a node:http server that logs one pino line per request, and the
 * switch to the service's own uid once it listens. ambitd captures a
 * service's outbound traffic by the uid that owns its sockets, so the calls a
 * service makes must come from the uid it was enrolled with; starting as root
 * and dropping privileges (as nginx does) also spares the uid from needing to
 * read the checkout.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { logger, type Logger } from '../../../core/logging.js';

export interface Reply {
  status: number;
  contentType: string;
  body: string;
}

export type Handler = (req: IncomingMessage, url: URL, log: Logger) => Promise<Reply>;

export interface ServiceSpec {
  name: string;
  /** Flags beyond --address, --port and --uid: name -> default. */
  flags?: Record<string, string>;
  /** Builds the request handler from the parsed flags. */
  handler(flags: Record<string, string>): Handler;
}

export function json(status: number, value: unknown): Reply {
  return { status, contentType: 'application/json', body: `${JSON.stringify(value)}\n` };
}

export function notFound(url: URL): Reply {
  return json(404, { error: `no route for ${url.pathname}` });
}

export function runService(spec: ServiceSpec): void {
  const extra = spec.flags ?? {};
  const options = Object.fromEntries(['address', 'port', 'uid', ...Object.keys(extra)].map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({ options, strict: true });
  const flags: Record<string, string> = { address: '0.0.0.0', port: '9080', ...extra };
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') flags[k] = v;
  const port = Number(flags.port);
  const uid = flags.uid === undefined ? undefined : Number(flags.uid);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(spec.name, `--port ${flags.port}: expected a port number`);
  if (uid !== undefined && !(Number.isInteger(uid) && uid > 0)) fail(spec.name, `--uid ${flags.uid}: expected a non-root numeric uid`);

  const log = logger(spec.name);
  const handle = spec.handler(flags);
  const server = createServer((req, res) => void serve(req, res, handle, log));
  server.listen(port, flags.address, () => {
    if (uid !== undefined) dropPrivileges(uid);
    log.info({ address: flags.address, port, uid: process.getuid?.() }, 'listening');
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.close(() => process.exit(0)).closeAllConnections());
}

async function serve(req: IncomingMessage, res: ServerResponse, handle: Handler, log: Logger): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', 'http://service');
  const requestLog = log.child({ requestId: req.headers['x-request-id'], endUser: req.headers['end-user'] });
  let reply: Reply;
  try {
    reply = await handle(req, url, requestLog);
  } catch (err) {
    requestLog.error({ err }, 'handler failed');
    reply = json(500, { error: (err as Error).message });
  }
  res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
  requestLog.info({ method: req.method, path: url.pathname, status: reply.status, ms: Math.round(performance.now() - started) }, 'request');
}

function dropPrivileges(uid: number): void {
  // Group first: once the uid is dropped, changing groups is no longer allowed.
  process.setgroups?.([]);
  process.setgid?.(uid);
  process.setuid?.(uid);
}

function fail(name: string, message: string): never {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(2);
}

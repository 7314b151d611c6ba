/**
 * An HBONE pair on 127.0.0.1 for tests: a test CA, an HboneServer with a
 * server identity, an HboneClient whose source identities are issued on
 * demand, and TCP upstreams. Everything is closed in t.teardown.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ExecutionContext } from 'ava';
import { HboneClient, HboneServer, type HboneClientOptions, type HboneServerOptions, type TlsIdentity } from '../../core/hbone/index.js';
import { logger } from '../../core/logging.js';
import { makeTestCa, workload, type TestCa } from './test-pki.js';

export const SERVER_ID = workload('ambit-system', 'node-b');
export const CLIENT_ID = workload('default', 'productpage');

export interface Mesh {
  pki: TestCa;
  server: HboneServer;
  serverPort: number;
  client: HboneClient;
  /** Identities handed to the client, by source; tests may replace entries to rotate. */
  identities: Map<string, TlsIdentity>;
  /** Ports of upstreams resolveUpstream lets through (on 127.0.0.1). */
  allowed: Set<number>;
  peer: { host: string; port: number };
}

export interface MeshOptions {
  server?: Partial<HboneServerOptions>;
  client?: Partial<HboneClientOptions>;
}

// Rejections are logged at info on purpose; tests provoke hundreds of them.
const log = logger('hbone').child({}, { level: process.env.AMBIT_LOG_LEVEL ?? 'warn' });

export async function startMesh(t: ExecutionContext, options: MeshOptions = {}): Promise<Mesh> {
  const pki = await makeTestCa();
  const identities = new Map<string, TlsIdentity>();
  const allowed = new Set<number>();
  const server = new HboneServer({
    log,
    identity: await pki.issue(SERVER_ID),
    // Only upstreams a test registered: the port is never an open relay.
    resolveUpstream: ({ destination }) =>
      destination.host === '127.0.0.1' && allowed.has(destination.port)
        ? { host: destination.host, port: destination.port }
        : { refuse: `${destination.host}:${destination.port} is not a local workload` },
    ...options.server,
  });
  const { port: serverPort } = await server.listen(0, '127.0.0.1');
  const client = new HboneClient({
    getSecureContext: async (source) => {
      let identity = identities.get(source);
      if (!identity) identities.set(source, (identity = await pki.issue(source)));
      return identity;
    },
    ...options.client,
  });
  t.teardown(async () => {
    client.close();
    await server.close(100);
  });
  return { pki, server, serverPort, client, identities, allowed, peer: { host: '127.0.0.1', port: serverPort } };
}

/** A TCP upstream on 127.0.0.1 that `mesh` will tunnel to; half-open allowed so tests see each FIN. */
export async function upstream(
  t: ExecutionContext,
  mesh: Mesh | undefined,
  handler: (socket: Socket) => void,
): Promise<{ server: Server; port: number; authority: string }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    handler(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  mesh?.allowed.add(port);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port, authority: `127.0.0.1:${port}` };
}

export const echo = (socket: Socket): void => void socket.pipe(socket);

/** Reads a stream to its end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A port that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Polls `check` until true; throws after `ms`. */
export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

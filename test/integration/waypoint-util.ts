/**
 * Store-fed waypoints and the parts around them for trust tests (not a test
 * file itself), on an identity-util mesh: the waypoint wired as the binary
 * wires it (waypoint/from-store.ts) with a certificate of the mesh CA and its
 * state dir in the test's tmp; a "peer daemon" HBONE server presenting a
 * joined node's own certificate in front of an HTTP endpoint; a caller that
 * sends one HTTP/1.1 request through an HBONE tunnel.
 */
import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { HboneClient, HboneServer, type TlsIdentity } from '../../core/hbone/index.js';
import { requestWorkloadCert, SignerClient, type NodeIdentity } from '../../core/identity/client/index.js';
import { signedEnroll } from '../../core/identity/manifest/writer.js';
import { logger } from '../../core/logging.js';
import { Watcher } from '../../core/store/index.js';
import type { EndpointRecord } from '../../core/store/types.js';
import { startFromStore, type StoreFedWaypoint } from '../../waypoint/from-store.js';
import type { WaypointServer } from '../../waypoint/server.js';
import { readAll } from '../helpers/hbone-harness.js';
import { issueLeaf, workload } from '../helpers/test-pki.js';
import type { Mesh } from './identity-util.js';

export const log = logger('waypoint-trust-test').child({}, { level: process.env.AMBIT_LOG_LEVEL ?? 'warn' });

export interface MeshWaypoint extends StoreFedWaypoint {
  port: number;
  principal: string;
  /** Closes it (idempotent; also done at the test's end). */
  close(): Promise<void>;
}

/** A waypoint for `service` (in default) reading `m`'s store; rejects as startFromStore does. */
export async function startMeshWaypoint(t: ExecutionContext, m: Mesh, service: string, stateDir: string): Promise<MeshWaypoint> {
  const principal = workload('default', `${service}-waypoint`);
  const tls = await issueLeaf(m.ca, principal);
  const watcher = new Watcher({ ...m.store.options, pollIntervalMs: 500 });
  let fed: StoreFedWaypoint;
  try {
    fed = await startFromStore({
      store: m.store,
      watcher,
      identity: () => ({ tls, principal }),
      services: [`${service}.default.svc.cluster.local`],
      nodeName: 'wp',
      trustDomain: 'cluster.local',
      domain: 'cluster.local',
      stateDir,
      log,
      nodePollMs: 200,
      server: { retryBackOffMs: 1 },
    });
  } catch (err) {
    await watcher.close();
    throw err;
  }
  const port = (await fed.server.listen(0, '127.0.0.1')).port;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      fed.stop();
      await fed.server.close(100);
      await watcher.close();
      await fed.sequence.flushed();
    })());
  t.teardown(close);
  return { ...fed, port, principal, close };
}

/** The daemon of node `node` as its peers see it: its node certificate on an HBONE port, tunnelling to `target`. */
export async function startPeerDaemon(t: ExecutionContext, m: Mesh, node: NodeIdentity, target: { host: string; port: number }): Promise<number> {
  const peer = new HboneServer({
    log,
    identity: { key: node.keyPem, cert: node.chainPem, ca: [m.ca.root.pem] },
    resolveUpstream: ({ destination }) =>
      destination.host === target.host && destination.port === target.port ? { ...target } : { refuse: 'not a local workload' },
  });
  t.teardown(() => peer.close(100));
  return (await peer.listen(0, '127.0.0.1')).port;
}

/** An enrollment of `service` (in default, its own service account) on `node`, at 127.0.0.1:`port`. */
export const endpoint = (service: string, node: string, port: number): EndpointRecord => ({
  service,
  namespace: 'default',
  node,
  address: '127.0.0.1',
  port,
  serviceAccount: service,
  labels: {},
});

/** An HTTP endpoint answering `body` to every request. */
export async function startEndpoint(t: ExecutionContext, body: string): Promise<number> {
  const server: Server = createServer((_req, res) => res.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

export interface TrustScene {
  /** ratings' VIP and port (the endpoint's, on 127.0.0.1). */
  vip: string;
  port: number;
  /** productpage's enrollment on node c. */
  productpage: EndpointRecord;
  /** productpage's workload certificate, as the signer issued it to c. */
  callerTls: TlsIdentity;
  callerId: string;
  callerSerial: string;
}

/** ratings on node b behind b's daemon (b's node certificate on an HBONE port); productpage, the caller, enrolled on node c. */
export async function trustScene(t: ExecutionContext, m: Mesh): Promise<TrustScene> {
  const b = await m.join('b');
  const port = await startEndpoint(t, 'ratings-v1');
  const peerPort = await startPeerDaemon(t, m, b, { host: '127.0.0.1', port });
  await m.store.heartbeatNode({ name: 'b', address: '127.0.0.1', hbonePort: peerPort }, 60);
  const { vip } = await signedEnroll(m.store, m.operator, endpoint('ratings', 'b', port));
  const c = await m.join('c');
  const productpage = endpoint('productpage', 'c', 9080);
  await signedEnroll(m.store, m.operator, productpage);
  const signerC = new SignerClient(m.store, 'c', 5000);
  t.teardown(() => signerC.close());
  const cert = await requestWorkloadCert(signerC, c, 'spiffe://cluster.local/ns/default/sa/productpage');
  return {
    vip,
    port,
    productpage,
    callerTls: { key: cert.keyPem, cert: cert.chainPem, ca: [m.ca.root.pem] },
    callerId: cert.spiffeId,
    callerSerial: cert.serial,
  };
}

/** A caller presenting `tls` (a workload certificate) to the waypoint at `waypoint`, for the service at `vip:port`. */
export function caller(t: ExecutionContext, tls: TlsIdentity, source: string, waypoint: MeshWaypoint, vip: string, port: number) {
  const client = new HboneClient({ getSecureContext: () => tls, connectTimeoutMs: 3000 });
  t.teardown(() => client.close());
  const tunnel = (): Promise<Duplex> =>
    client.connect({ peer: { host: '127.0.0.1', port: waypoint.port }, authority: `${vip}:${port}`, source, expectedServerIdentity: waypoint.principal });
  /** One GET through a new tunnel: the status and body the waypoint answered. */
  const get = async (): Promise<{ status: number; body: string }> => {
    const stream = await tunnel();
    // Written, not ended: the request is complete, and a half-close could end the exchange before the answer.
    stream.write(`GET / HTTP/1.1\r\nhost: ${vip}:${port}\r\nconnection: close\r\n\r\n`);
    const text = (await readAll(stream)).toString();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
  };
  return { client, tunnel, get };
}

/** The value of one sample on the waypoint's /metrics (0 when absent). */
export async function sample(server: WaypointServer, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await server.metrics.registry.metrics());
  return m ? Number(m[1]) : 0;
}

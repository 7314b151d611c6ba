/**
 * One ambit-waypoint (the real WaypointServer) in a process of its own, so
 * bench/tracing.ts can account its CPU alone: `node waypoint-child.js
 * <config.json>`. Serves one service (`bench`, a VirtualService routing to
 * its one endpoint) behind the peer daemon the bench runs, with the tracing
 * settings the config names. Prints {"port":N} once listening; answers the
 * parent's "cpu" messages with process.cpuUsage() (microseconds, finer than
 * /proc's clock ticks).
 */
import { readFileSync } from 'node:fs';
import type { TlsIdentity } from '../../core/hbone/index.js';
import { logger } from '../../core/logging.js';
import type { TracingSettings } from '../../core/telemetry/settings.js';
import { WaypointServer } from '../../waypoint/server.js';
import { resource } from '../../test/helpers/waypoint-harness.js';
import { meshState } from '../../test/helpers/waypoint-mesh.js';

export interface ChildConfig {
  tls: TlsIdentity;
  principal: string;
  peerPort: number;
  endpoint: { address: string; port: number };
  vip: string;
  tracing: TracingSettings;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildConfig;
const { address, port } = config.endpoint;
const mesh = meshState(
  {
    services: new Map([['default/bench', { name: 'bench', namespace: 'default', ports: [port], vip: config.vip }]]),
    endpoints: [{ service: 'bench', namespace: 'default', node: 'node-b', address, port, serviceAccount: 'bench', labels: { app: 'bench', version: 'v1' } }],
    peerPort: config.peerPort,
  },
  [resource('VirtualService', 'bench', { hosts: ['bench'], http: [{ name: 'bench', route: [{ destination: { host: 'bench' } }] }] })],
  1,
);
const server = new WaypointServer({
  identity: config.tls,
  principal: config.principal,
  getSecureContext: () => config.tls,
  services: ['bench.default.svc.cluster.local'],
  mesh,
  // The same (none) in every mode: what is measured is tracing, not the access log.
  accessLog: () => undefined,
  log: logger('bench-waypoint'),
  tracing: config.tracing,
});
const { port: listening } = await server.listen(0, '127.0.0.1');
process.on('message', () => process.send?.({ cpu: process.cpuUsage() }));
process.once('SIGTERM', () => void server.close(100).then(() => process.exit(0)));
process.stdout.write(`${JSON.stringify({ port: listening })}\n`);

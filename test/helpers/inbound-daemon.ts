/**
 * ambitd's real inbound (createInbound, port 15008's HBONE server) on a free
 * loopback port, with the node identity of a test CA and a state the test
 * controls, for integration tests of what the receiving daemon does with a
 * tunnel (spans, metrics, access log); closed at the test's end.
 */
import type { ExecutionContext } from 'ava';
import type { Logger } from 'pino';
import type { MeshState } from '../../core/mesh/index.js';
import { createInbound } from '../../daemon/inbound.js';
import type { DaemonMetrics } from '../../daemon/metrics.js';
import type { TunnelTracing } from '../../daemon/tunnel-tracing.js';
import type { TestCa } from './test-pki.js';

export async function startInbound(
  t: ExecutionContext,
  pki: TestCa,
  o: { state: () => MeshState; metrics: DaemonMetrics; tracing: TunnelTracing; log: Logger },
): Promise<number> {
  const server = createInbound({
    ...o,
    identity: await pki.issue('spiffe://cluster.local/ambit/node/a'),
    limits: { handshakeTimeoutMs: 5000, maxPendingHandshakesPerAddress: 32, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 5000 },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close(0));
  return port;
}

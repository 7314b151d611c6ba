/**
 * Step 6: what the mesh reports about itself: live tunnels, the certificates
 * it issued, Istio-named TCP metrics from a daemon and request metrics from
 * the reviews waypoint. Runs after the routing steps, so the waypoints they
 * attached show up too.
 */
import { metricSum } from '../../../../test/helpers/prometheus-text.js';
import type { Step } from '../step.js';
import type { DemoHost } from '../workloads.js';

const WORKLOAD_IDS = ['productpage', 'details', 'reviews', 'ratings', 'reviews-waypoint', 'ratings-waypoint'].map(
  (sa) => `spiffe://cluster.local/ns/default/sa/${sa}`,
);
const PRODUCTPAGE = WORKLOAD_IDS[0]!;
const REQUESTS = 5;

/** Tunnels the demo's traffic must have opened by now: [node, source sa, destination identity, why]. */
const TUNNELS: Array<[string, string, string, string]> = [
  ['a', 'productpage', 'ambit/node/b', 'productpage -> details (L4, daemon to daemon)'],
  ['a', 'productpage', 'ns/default/sa/reviews-waypoint', 'productpage -> reviews waypoint'],
  ['c', 'reviews', 'ns/default/sa/ratings-waypoint', 'reviews v2 -> ratings waypoint'],
];

export const inspectStep: Step = {
  title: 'ambit tunnels, ambit certs, metrics',
  async run(app, n) {
    n.say('Live HBONE tunnels, as each daemon reports them to the store (source identity -> the peer it proved):');
    const tunnels = await app.ambit('store', ['tunnels']);
    const missingTunnels = TUNNELS.filter(
      ([node, sa, dst]) => !new RegExp(`^${node}\\s+cluster\\.local/ns/default/sa/${sa}\\s+cluster\\.local/${dst}\\s`, 'm').test(tunnels),
    );
    n.proof(
      missingTunnels.length === 0,
      missingTunnels.length === 0 ? `tunnels listed: ${TUNNELS.map((t) => t[3]).join('; ')}` : `no tunnel for ${missingTunnels.map((t) => t[3]).join('; ')}`,
    );

    n.say('\nCertificates the CA issued: one per node, one per workload identity on the node that runs it:');
    const certs = await app.ambit('store', ['certs']);
    const missing = WORKLOAD_IDS.filter((id) => !certs.includes(id));
    n.proof(
      missing.length === 0,
      missing.length === 0
        ? `certificates issued for all ${WORKLOAD_IDS.length} workload identities, waypoints included`
        : `no certificate for ${missing.join(', ')}`,
    );

    n.say("\nIstio-named TCP metrics from b's daemon (reporter=destination: connections it accepted for its workloads):");
    await app.shell('b', "curl -s http://127.0.0.1:15020/metrics | grep '^istio_tcp_connections_opened_total' | head -n 3");
    const opened = metricSum(await app.mesh.admin('b', '/metrics', 15020), 'istio_tcp_connections_opened_total', {
      reporter: 'destination',
      source_principal: PRODUCTPAGE,
    });
    n.proof(opened > 0, `b's daemon counted ${opened} connections opened by productpage, each over mutual TLS`);

    n.say('\nHTTP request metrics from the reviews waypoint (its metrics port is in the list):');
    const list = await app.ambit('store', ['waypoint', 'list']);
    const row = /^\S+\s+reviews\s+(\S+)\s+.*\s127\.0\.0\.1:(\d+)\s*$/m.exec(list);
    if (!row) throw new Error('ambit waypoint list shows no waypoint for reviews');
    const node = row[1] as DemoHost;
    const port = Number(row[2]);
    await app.shell(node, `curl -s http://127.0.0.1:${port}/metrics | grep '^istio_requests_total' | head -n 3`);
    const count = async () =>
      metricSum(await app.mesh.admin(node, '/metrics', port), 'istio_requests_total', { destination_service_name: 'reviews', response_code: '200' });
    const before = await count();
    n.say(`${REQUESTS} more requests, then the count again:`);
    await app.pages(REQUESTS);
    const after = await count();
    n.proof(
      after - before === REQUESTS,
      `the reviews waypoint's istio_requests_total{response_code="200"} went from ${before} to ${after}: +${after - before} for our ${REQUESTS} requests`,
    );
  },
};

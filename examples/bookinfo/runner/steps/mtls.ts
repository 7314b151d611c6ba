/**
 * Step 1: productpage answers, and what crosses host b's wire while it does
 * is TLS to the daemons' HBONE port only: none of the HTTP the services
 * exchange is readable there.
 */
import { readFileSync } from 'node:fs';
import { SERVICE_PORT } from '../workloads.js';
import { captureWire } from '../wire-capture.js';
import type { Step } from '../step.js';

const HBONE_PORT = 15008;
const STORE_PORT = 6379;
const REQUESTS = 5;

export const mtlsStep: Step = {
  title: 'mTLS between hosts, with no change to the services',
  async run(app, n) {
    n.say('productpage (on a) calls details and reviews v1 (on b) and reviews v2/v3 (on c) by name, e.g.');
    n.say(`http://details.default.svc.cluster.local:${SERVICE_PORT}, in plain HTTP. ambitd on each host captures those`);
    n.say('connections and carries them in HBONE tunnels (HTTP/2 CONNECT over mutual TLS, port 15008).');
    n.say('Without routing rules, reviews is balanced across its three versions per connection.');
    n.say('\nThe page, as the user jason gets it:');
    await app.showPage('jason');
    // What would be on b's wire if the calls went in the clear: requests, jason's header, the answers.
    const markers = ['GET /details/0', 'GET /reviews/0', 'GET /ratings/0', 'end-user: jason', 'ISBN-10', 'Reviewer1'];
    n.say(`\nCapturing host b's wire (tcpdump on its interface) during ${REQUESTS} more requests:`);
    n.command('b', `tcpdump -i ${app.mesh.topo.host('b').veth} -w wire.pcap tcp   # while a requests the page ${REQUESTS} times`);
    const { result: pages, wire } = await captureWire(app.mesh, 'b', markers, () => app.pages(REQUESTS, 'jason'));
    const complete = pages.filter((r) => r.page.details && r.page.reviews).length;
    const versions = [...new Set(pages.map((r) => r.page.reviews?.version ?? 'none'))].sort();
    n.say(`  reviews versions that answered: ${versions.join(', ')}`);
    const ports = [...wire.packetsByPort].map(([port, count]) => `${count} to port ${port}`).join(', ');
    n.say(`  captured ${wire.bytes} bytes, ${wire.packets} packets (${ports || 'none'}), ${wire.tlsRecords} TLS application-data records`);
    const seen = [...wire.markers].filter(([, count]) => count > 0);
    n.proof(complete === REQUESTS, `${complete}/${REQUESTS} pages showed details and reviews, fetched through the mesh`);
    const plaintextPort = wire.packetsByPort.get(SERVICE_PORT) ?? 0;
    const hbone = wire.packetsByPort.get(HBONE_PORT) ?? 0;
    // The daemon's own connection to Redis (6379) shares the wire; anything else would be a leak.
    const other = wire.packets - hbone - (wire.packetsByPort.get(STORE_PORT) ?? 0);
    n.proof(
      hbone > 0 && plaintextPort === 0 && other === 0 && wire.tlsRecords > 0,
      `b's wire: ${hbone} packets on HBONE port ${HBONE_PORT} carrying ${wire.tlsRecords} TLS records, ${plaintextPort} on service port ${SERVICE_PORT}, ${other} on any port but HBONE and the store's`,
    );
    n.proof(
      seen.length === 0,
      seen.length === 0
        ? `none of ${markers.map((m) => `"${m}"`).join(', ')} appears in the capture`
        : `plaintext on the wire: ${seen.map(([m, c]) => `"${m}" x${c}`).join(', ')}`,
    );
    await storeRoles(app, n);
  },
};

/** The operator/node split: b's daemon holds only b's store user, and Redis itself refuses it a policy write. */
async function storeRoles(app: Parameters<Step['run']>[0], n: Parameters<Step['run']>[1]): Promise<void> {
  const { username, password } = JSON.parse(readFileSync(app.mesh.credentials.node('b'), 'utf8')) as { username: string; password: string };
  n.say(`\nStore roles: the CLI is ambit-operator, the signer ambit-signer, and b's ambitd ${username}, which may write only b's own keys:`);
  const args = ['hset', 'ambit:resources', 'AuthorizationPolicy/istio-system/allow-all', '{}'];
  n.command('b', `redis-cli --user ${username} --pass "$(jq -r .password ${app.mesh.credentials.node('b')})" ${args.join(' ')}`);
  const store = app.mesh.topo.host('store').address;
  const r = await app.mesh.topo.exec('b', 'redis-cli', ['-h', store, '-p', '6379', '--user', username, '--pass', password, '--no-auth-warning', ...args]);
  const answer = (r.stdout + r.stderr).trim().split('\n')[0] ?? '';
  n.say(`  ${answer}`);
  n.proof(
    /^\(error\) NOPERM|^NOPERM/.test(answer),
    `b's store user may not write a policy: Redis answered ${JSON.stringify(answer.replace(/^\(error\) /, ''))}`,
  );
}

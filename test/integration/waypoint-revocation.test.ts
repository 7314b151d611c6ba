/**
 * Issue 13, revocation at the waypoint, against a real Redis, a real signer,
 * real TLS and the waypoint wired as ambit-waypoint wires it (in this
 * process): a caller's workload certificate is accepted on the waypoint's
 * HBONE listener and the waypoint reaches the endpoint through its node's
 * daemon; once a signed manifest revokes the endpoint's node, the pooled
 * session to that daemon is cut and the waypoint refuses to dial it again
 * (the caller, not revoked, keeps its session); once the caller's node is
 * removed, its open session to the waypoint is cut and new handshakes are
 * refused. Each refusal is counted with ambitd's metric names and labels.
 */
import test from 'ava';
import { join } from 'node:path';
import { removeNode } from '../../core/access/node-removal.js';
import { signedRevokeNode } from '../../core/identity/manifest/writer.js';
import { listIssued } from '../../core/identity/store/index.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { mesh } from './identity-util.js';
import { caller, sample, startMeshWaypoint, trustScene } from './waypoint-util.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const REVOKED = (direction: string) => new RegExp(`ambit_tls_peer_revoked_total\\{direction="${direction}",match="(?:serial|node)"\\} (\\d+)`);
const HANDSHAKE_REVOKED = (direction: string) =>
  new RegExp(`ambit_tls_handshake_failures_total\\{direction="${direction}",reason="EIDENTITY_PEER_REVOKED"\\} (\\d+)`);

test.serial('the waypoint refuses revoked peers both ways: it cuts and refuses a removed caller, and stops dialling a revoked node', async (t) => {
  const m = await mesh(t, redis.url);
  const { vip, port: endpointPort, callerTls, callerId, callerSerial } = await trustScene(t, m);
  const wp = await startMeshWaypoint(t, m, 'ratings', join(m.tmp, 'wp-state'));
  const pp = caller(t, callerTls, callerId, wp, vip, endpointPort);
  const first = await pp.get();
  t.is(first.status, 200, first.body);
  t.true(first.body.includes('ratings-v1'));
  t.is(wp.server.tunnels().length, 1, 'the waypoint holds a session to b’s daemon');

  // A second caller session, held open across both revocations.
  const heldClient = caller(t, callerTls, callerId, wp, vip, endpointPort);
  const held = await heldClient.tunnel();
  let heldClosed = false;
  held.on('error', () => undefined);
  const cut = new Promise<void>((resolve) =>
    held.once('close', () => {
      heldClosed = true;
      resolve();
    }),
  );

  // b's name and certificates on the signed list (what `ambit node remove b` signs first, before b's endpoints leave).
  await signedRevokeNode(m.store, m.operator, 'b', await listIssued(m.store, { node: 'b' }));
  await eventually(async () => (await sample(wp.server, REVOKED('outbound'))) >= 1, 5000);
  await eventually(async () => wp.server.tunnels().length === 0, 5000);
  t.pass('the pooled session to b’s daemon was cut when the revocation arrived');
  const before = await sample(wp.server, REVOKED('outbound'));
  const refused = await pp.get();
  t.true(refused.status >= 500, `a request for ratings is not sent to revoked b (status ${refused.status})`);
  t.false(refused.body.includes('ratings-v1'));
  t.true((await sample(wp.server, REVOKED('outbound'))) > before, 'the refused dial is counted');
  t.true((await sample(wp.server, HANDSHAKE_REVOKED('outbound'))) >= 1);
  t.false(heldClosed, 'the caller, not revoked, keeps its session');

  // c removed: its certificates are revoked, the session it holds is cut, new handshakes are refused.
  const removed = await removeNode(m.store, 'c', m.operator);
  t.true(removed.serials.includes(callerSerial));
  await cut;
  t.true(heldClosed, 'the open session of the removed caller was cut');
  await eventually(async () => (await sample(wp.server, REVOKED('inbound'))) >= 1, 5000);
  const inboundBefore = await sample(wp.server, REVOKED('inbound'));
  await t.throwsAsync(caller(t, callerTls, callerId, wp, vip, endpointPort).get(), undefined, 'a new handshake is refused');
  t.true((await sample(wp.server, REVOKED('inbound'))) > inboundBefore);
  t.true((await sample(wp.server, HANDSHAKE_REVOKED('inbound'))) >= 1);
  t.true(wp.sequence.value >= (removed.revokedAt ?? Infinity), 'the waypoint accepted the revoking manifest');
});

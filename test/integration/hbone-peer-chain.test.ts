/**
 * Certificates the mesh CA signed but ambit must not accept on HBONE, over
 * real TLS on 127.0.0.1: a leaf of another trust domain and a CA:TRUE
 * "leaf". OpenSSL accepts both (they chain to the trusted root); port 15008
 * and the dialling client must refuse them before any stream, say why, and
 * count it by reason.
 */
import { webcrypto } from 'node:crypto';
import { connect as h2connect } from 'node:http2';
import test from 'ava';
import { HboneClient, HboneError, type TlsIdentity } from '../../core/hbone/index.js';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';
import { logger } from '../../core/logging.js';
import type { SigningCA } from '../../core/identity/index.js';
import { x509 } from '../../core/identity/x509.js';
import { createInbound } from '../../daemon/inbound.js';
import { DaemonMetrics } from '../../daemon/metrics.js';
import { CLIENT_ID, echo, readAll, SERVER_ID, startMesh, until, upstream, type Mesh } from '../helpers/hbone-harness.js';
import { workload } from '../helpers/test-pki.js';

const EVIL_ID = 'spiffe://evil.example/ns/default/sa/productpage';
const log = logger('hbone').child({}, { level: process.env.AMBIT_LOG_LEVEL ?? 'silent' });

/** A certificate ambit's signer would never issue, signed by the mesh CA all the same. */
async function minted(ca: SigningCA, spiffeId: string, kind: 'leaf' | 'ca'): Promise<TlsIdentity> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const usage =
    kind === 'ca'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign
      : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const cert = await x509.X509CertificateGenerator.create({
    issuer: ca.signer.cert.subjectName,
    subject: 'CN=minted',
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
      new x509.BasicConstraintsExtension(kind === 'ca', undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { key, cert: cert.toString('pem'), ca: ca.root.pem };
}

async function roundTrip(mesh: Mesh, authority: string): Promise<string> {
  const stream = await mesh.client.connect({ peer: mesh.peer, authority, source: CLIENT_ID });
  stream.end('ping');
  return (await readAll(stream)).toString();
}

/**
 * What an attacker holding `identity` does: plain node:http2 over TLS,
 * trusting the mesh root and checking nothing else. Resolves with how the
 * CONNECT ended: an error code, or the status it was answered with.
 */
async function attack(t: { teardown(f: () => void): void }, port: number, identity: TlsIdentity, authority: string): Promise<string> {
  const session = h2connect(`https://127.0.0.1:${port}`, { ...identity, checkServerIdentity: () => undefined });
  session.on('error', () => undefined);
  t.teardown(() => session.destroy());
  const req = session.request({ ':method': 'CONNECT', ':authority': authority });
  return new Promise<string>((resolve) => {
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.on('close', () => resolve('closed'));
    req.on('response', (h) => resolve(`answered ${String(h[':status'])}`));
  });
}

/** A client presenting `identity`; refusals it reports are collected by reason. */
function clientWith(t: { teardown(f: () => void): void }, identity: TlsIdentity) {
  const reasons: string[] = [];
  const client = new HboneClient({ getSecureContext: () => identity, onHandshakeFailed: ({ reason }) => reasons.push(reason), log });
  t.teardown(() => client.close());
  return { client, reasons };
}

for (const [name, spiffeId, kind, reason] of [
  ['a leaf of another trust domain', EVIL_ID, 'leaf', 'EIDENTITY_WRONG_TRUST_DOMAIN'],
  ['a CA:TRUE certificate as leaf', CLIENT_ID, 'ca', 'EIDENTITY_NOT_LEAF'],
] as const) {
  test(`15008 refuses ${name} from the mesh CA before any stream; a good client is still served`, async (t) => {
    const mesh = await startMesh(t, { server: { log } });
    const up = await upstream(t, mesh, echo);
    const outcome = await attack(t, mesh.serverPort, await minted(mesh.pki.ca, spiffeId, kind), up.authority);
    t.notRegex(outcome, /answered/, 'the CONNECT got no answer at all');
    await until(() => mesh.server.stats().handshakeFailures === 1);
    t.deepEqual(mesh.server.stats().handshakeFailuresByReason, { [reason]: 1 });
    t.is(mesh.server.stats().streamsTotal, 0);
    t.is(mesh.server.stats().sessionsTotal, 0, 'no session was set up');
    t.is(await roundTrip(mesh, up.authority), 'ping', 'a leaf the mesh issued is still accepted');
  });

  test(`the client refuses a server presenting ${name} from the mesh CA`, async (t) => {
    const mesh = await startMesh(t, { server: { log } });
    const up = await upstream(t, mesh, echo);
    const serverId = spiffeId === CLIENT_ID ? SERVER_ID : spiffeId;
    const good = await mesh.pki.issue(SERVER_ID);
    mesh.server.setSecureContext(await minted(mesh.pki.ca, serverId, kind));
    const { client, reasons } = clientWith(t, await mesh.pki.issue(CLIENT_ID));
    const err = await t.throwsAsync(client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
    t.is(err?.code, 'EHBONE_PEER_IDENTITY', err?.message);
    t.deepEqual(reasons, [reason]);
    t.is(mesh.server.stats().streamsTotal, 0);
    mesh.server.setSecureContext(good);
    t.is(await roundTrip(mesh, up.authority), 'ping', 'a server certificate the mesh issued is accepted');
  });
}

test('the daemon counts a refused client in ambit_tls_handshake_failures_total by reason', async (t) => {
  const mesh = await startMesh(t, { server: { log } });
  const metrics = new DaemonMetrics();
  const inbound = createInbound({
    state: () => {
      throw new Error('a refused handshake never reaches mesh state');
    },
    identity: await mesh.pki.issue(workload('ambit-system', 'node-c')),
    limits: parseDaemonConfig('', 'ambitd.yaml').hbone,
    metrics,
    log,
  });
  const { port } = await inbound.listen(0, '127.0.0.1');
  t.teardown(() => inbound.close(100));
  t.notRegex(await attack(t, port, await minted(mesh.pki.ca, EVIL_ID, 'leaf'), '127.0.0.1:9'), /answered/);
  await until(() => inbound.stats().handshakeFailures === 1);
  const text = await metrics.registry.metrics();
  t.regex(text, /ambit_tls_handshake_failures_total\{direction="inbound",reason="EIDENTITY_WRONG_TRUST_DOMAIN"\} 1/);
});

test('an ambit client refused by 15008 reports why it was refused, not "socket hang up"', async (t) => {
  const mesh = await startMesh(t, { server: { log } });
  const up = await upstream(t, mesh, echo);
  // Same trust domain, so this client accepts the server; the server refuses its CA:TRUE certificate.
  const { client, reasons } = clientWith(t, await minted(mesh.pki.ca, CLIENT_ID, 'ca'));
  const err = await t.throwsAsync(client.connect({ peer: mesh.peer, authority: up.authority, source: CLIENT_ID }), { instanceOf: HboneError });
  t.is(err?.code, 'EHBONE_TLS', err?.message);
  t.regex(err?.message ?? '', /refused our certificate/);
  t.deepEqual(reasons, ['ERR_TLS_PEER_REJECTED']);
  await until(() => mesh.server.stats().handshakeFailures === 1);
  t.deepEqual(mesh.server.stats().handshakeFailuresByReason, { EIDENTITY_NOT_LEAF: 1 });
});

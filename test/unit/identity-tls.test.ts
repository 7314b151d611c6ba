import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import { bundleOf, bundlePem, createIntermediateCA, createRootCA, verifyPeerChain, type SigningCA, type TrustBundle } from '../../core/identity/index.js';
import { issueFor, sleep, type Workload } from './identity-fixtures.js';

const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/productpage';

interface Seen {
  /** What the server's verifyPeerChain made of each client, or the error code it gave. */
  clients: string[];
  /** node:tls's own verdict on each client that got through: `authorizationError`, or 'authorized'. */
  tlsVerdicts: string[];
}

/**
 * An mTLS server that names its peer: it verifies the client chain with
 * verify.ts and writes the SPIFFE ID back. `rejectUnauthorized: false` lets a
 * test see node:tls's verdict and verify.ts's side by side.
 */
async function startServer(
  t: ExecutionContext,
  me: Workload,
  bundle: TrustBundle,
  rejectUnauthorized = true,
): Promise<{ server: tls.Server; port: number; seen: Seen }> {
  const seen: Seen = { clients: [], tlsVerdicts: [] };
  const server = tls.createServer({ key: me.keyPem, cert: me.issued.chainPem, ca: bundlePem(bundle), requestCert: true, rejectUnauthorized }, (socket) => {
    let answer: string;
    try {
      answer = verifyPeerChain(socket.getPeerCertificate(true), bundle).spiffeId.uri;
    } catch (err) {
      answer = (err as { code: string }).code;
    }
    seen.clients.push(answer);
    seen.tlsVerdicts.push(socket.authorized ? 'authorized' : String(socket.authorizationError));
    socket.end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

interface Exchange {
  /** What the client's verifyPeerChain made of the server. */
  serverId: string;
  serverSerial: string;
  /** What the server answered: its view of the client. */
  reply: string;
}

/**
 * One client connection. The server has no DNS or IP SAN, so hostname checks
 * are replaced by the SPIFFE check, as the HBONE client will do.
 */
function connect(port: number, me: Workload, bundle: TrustBundle, expectServer = SERVER_ID): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let serverId = '';
    let serverSerial = '';
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      key: me.keyPem,
      cert: me.issued.chainPem,
      ca: bundlePem(bundle),
      checkServerIdentity: (_host, cert) => {
        try {
          const peer = verifyPeerChain(cert, bundle);
          serverId = peer.spiffeId.uri;
          serverSerial = peer.serial;
          return serverId === expectServer ? undefined : new Error(`server is ${serverId}, expected ${expectServer}`);
        } catch (err) {
          return err as Error;
        }
      },
    });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (reply += d));
    socket.on('end', () => resolve({ serverId, serverSerial, reply }));
    socket.on('error', reject);
  });
}

/**
 * With TLS 1.3 the client finishes its side of the handshake before the
 * server has judged its certificate, so a refusal reaches the client either
 * as an alert (error) or as a connection closed without a reply.
 */
async function refused(attempt: Promise<Exchange>): Promise<void> {
  const outcome = await attempt.catch((err: Error) => err);
  if (!(outcome instanceof Error) && outcome.reply !== '') throw new Error(`server answered ${outcome.reply}`);
}

async function pki(): Promise<{ ca: SigningCA; bundle: TrustBundle; server: Workload; client: Workload }> {
  const ca = await createRootCA();
  return { ca, bundle: bundleOf(ca), server: await issueFor(ca, SERVER_ID), client: await issueFor(ca, CLIENT_ID) };
}

test("mutual TLS with issued certs: each side extracts the other's SPIFFE ID", async (t) => {
  const { bundle, server, client } = await pki();
  const { port } = await startServer(t, server, bundle);
  const result = await connect(port, client, bundle);
  t.is(result.serverId, SERVER_ID);
  t.is(result.reply, CLIENT_ID);
});

test('mutual TLS through a plug-in intermediate: the chain travels with the leaf', async (t) => {
  const root = await createRootCA({ commonName: 'Example Corp Root' });
  const ca = await createIntermediateCA({ parent: root });
  const bundle = bundleOf(ca);
  t.deepEqual(bundle.roots, [root.root.pem], 'only the operator root is trusted');
  const { port } = await startServer(t, await issueFor(ca, SERVER_ID), bundle);
  const result = await connect(port, await issueFor(ca, CLIENT_ID), bundle);
  t.is(result.serverId, SERVER_ID);
  t.is(result.reply, CLIENT_ID);
});

test('a client with a certificate from another CA is refused by node:tls and by verify.ts', async (t) => {
  const { bundle, server } = await pki();
  const stranger = await issueFor(await createRootCA(), CLIENT_ID);
  const strict = await startServer(t, server, bundle);
  await refused(connect(strict.port, stranger, bundle));
  t.deepEqual(strict.seen.clients, [], 'the handler never ran');

  const lax = await startServer(t, server, bundle, false);
  const result = await connect(lax.port, stranger, bundle);
  t.is(result.reply, 'EIDENTITY_UNTRUSTED');
  // Which of the two OpenSSL reports depends on whether a root of the same name is in the bundle.
  t.regex(lax.seen.tlsVerdicts.join(), /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
});

test('a server with a certificate from another CA is refused by the client', async (t) => {
  const { bundle, client } = await pki();
  const impostor = await issueFor(await createRootCA(), SERVER_ID);
  const { port } = await startServer(t, impostor, bundle);
  await t.throwsAsync(connect(port, client, bundle), { message: /unable to verify|self.signed|certificate/i });
});

test('the client refuses a valid server with an unexpected identity', async (t) => {
  const { ca, bundle, client } = await pki();
  const { port } = await startServer(t, await issueFor(ca, 'spiffe://cluster.local/ns/default/sa/ratings'), bundle);
  await t.throwsAsync(connect(port, client, bundle), { message: /server is spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings/ });
});

test('an expired client certificate is refused by node:tls and by verify.ts', async (t) => {
  const { ca, bundle, server } = await pki();
  const shortLived = await issueFor(ca, CLIENT_ID, 1);
  await sleep(shortLived.issued.notAfter.getTime() - Date.now() + 1100);
  const strict = await startServer(t, server, bundle);
  await refused(connect(strict.port, shortLived, bundle));
  t.deepEqual(strict.seen.clients, [], 'the handler never ran');
  const lax = await startServer(t, server, bundle, false);
  t.is((await connect(lax.port, shortLived, bundle)).reply, 'EIDENTITY_EXPIRED');
  t.deepEqual(lax.seen.tlsVerdicts, ['CERT_HAS_EXPIRED']);
});

test('rotation: setSecureContext with a re-issued cert at half life keeps every new client working', async (t) => {
  const TTL = 3;
  const { ca, bundle } = await pki();
  let server = await issueFor(ca, SERVER_ID, TTL);
  let client = await issueFor(ca, CLIENT_ID, TTL);
  const running = await startServer(t, server, bundle);
  // Each side renews at its certificate's half life, as the daemon's cert client will.
  let stopped = false;
  const renewals: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  // A failed renewal is logged and retried soon rather than ending the chain of timers.
  const renewLoop = (current: () => Workload, renew: () => Promise<void>): void => {
    const delay = Math.max(100, current().issued.renewAt.getTime() - Date.now());
    timers.add(
      setTimeout(() => {
        if (stopped) return;
        const firedAt = Date.now();
        renew()
          .then(
            () => renewals.push(`${firedAt}+${Date.now() - firedAt}ms`),
            (err: Error) => renewals.push(`${firedAt} failed: ${err.message}`),
          )
          .finally(() => renewLoop(current, renew));
      }, delay),
    );
  };
  const renewServer = (): void =>
    renewLoop(
      () => server,
      async () => {
        server = await issueFor(ca, SERVER_ID, TTL);
        running.server.setSecureContext({ key: server.keyPem, cert: server.issued.chainPem, ca: bundlePem(bundle) });
      },
    );
  const renewClient = (): void =>
    renewLoop(
      () => client,
      async () => {
        client = await issueFor(ca, CLIENT_ID, TTL);
      },
    );
  renewServer();
  renewClient();
  const stop = (): void => {
    stopped = true;
    timers.forEach(clearTimeout);
  };
  t.teardown(stop);

  const serials = new Set<string>();
  const failures: string[] = [];
  const until = Date.now() + 2.5 * TTL * 1000;
  let connections = 0;
  while (Date.now() < until) {
    try {
      const result = await connect(running.port, client, bundle);
      serials.add(result.serverSerial);
      if (result.reply !== CLIENT_ID) failures.push(result.reply);
    } catch (err) {
      // With a 3 s TTL a stall of the whole machine can outlast the 1.5 s margin; say so if it happens.
      failures.push(
        `${(err as Error).message} at ${Date.now()}; server cert renewAt ${server.issued.renewAt.getTime()} notAfter ${server.issued.notAfter.getTime()}; renewals ${renewals.slice(-3).join(', ')}`,
      );
    }
    connections++;
    await sleep(150);
  }
  stop();
  t.deepEqual(failures, []);
  t.true(connections > 15, `${connections} connections`);
  t.true(serials.size >= 4, `saw ${serials.size} server certificates over ${2.5 * TTL}s`);
});

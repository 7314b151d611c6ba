/**
 * CPU per request of the waypoint's JWT check (issue 15), in one process and
 * one run, against the floor any JWT filter pays: one signature verification
 * with node:crypto on the same token. Rows:
 *   crypto.verify   the signature alone (the peer: what Envoy's jwt_authn must also do per token)
 *   jose.jwtVerify  signature + claims through the library ambit uses
 *   ambit, new token       RequestAuthenticator.authenticate on a token it has not seen: token
 *                          lookup, issuer pick, jwtVerify, header removal and outputs
 *   ambit, repeated token  the same token again (a client reusing its token: the verified cache)
 *   ambit, no token        a request without a token (the unauthenticated path)
 * for RS256 (2048-bit, Istio's samples) and ES256.
 *
 *   npm run bench:jwt [-- --n 5000 --no-write]
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet, SignJWT } from 'jose';
import { loadAverage, machine, writeSection } from './results-file.js';

process.env.AMBIT_LOG_LEVEL ??= 'warn';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--n') + 1] ?? 5000) || 5000;
const WRITE = !args.includes('--no-write');
const HEADING = 'JWT check (bench/jwt)';
const ISSUER = 'https://issuer.bench';
/** Above the verified cache's 1000 entries. */
const DISTINCT = 1500;

/** CPU microseconds per call, user + system, over n sequential calls after a warm-up. */
async function cpuPerCall(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(500, n); i++) await fn(i + n);
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

interface Row {
  alg: string;
  path: string;
  us: number;
}

async function measure(alg: 'RS256' | 'ES256'): Promise<Row[]> {
  const [{ RequestAuthenticator }, { JwksSource }, { sourcesOf }, { logger }] = await Promise.all([
    import('../waypoint/authn/request-authn.js'),
    import('../waypoint/authn/jwks.js'),
    import('../waypoint/authn/token-location.js'),
    import('../core/logging.js'),
  ]);
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg };
  const sign = (sub: string) =>
    new SignJWT({ iss: ISSUER, sub, aud: 'reviews', groups: ['a', 'b'] })
      .setProtectedHeader({ alg, kid: 'k1', typ: 'JWT' })
      .setExpirationTime('1h')
      .sign(privateKey);
  const token = await sign('alice');
  // More distinct tokens than the verified cache holds, cycled: every check is a miss.
  const fresh = await Promise.all(Array.from({ length: DISTINCT }, (_, i) => sign(`user-${i}`)));
  const [head, payload, sig] = token.split('.') as [string, string, string];
  const signingInput = Buffer.from(`${head}.${payload}`);
  const signature = Buffer.from(sig, 'base64url');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const raw = () =>
    alg === 'RS256'
      ? cryptoVerify('sha256', signingInput, key, signature)
      : cryptoVerify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!raw()) throw new Error('the raw verification failed: the bench would measure nothing');
  const keys = createLocalJWKSet({ keys: [jwk] });
  const log = logger('bench-jwt');
  const noop = { inc: () => undefined };
  const rule = { issuer: ISSUER, audiences: ['reviews'], jwks: JSON.stringify({ keys: [jwk] }) };
  const authn = new RequestAuthenticator(
    [{ rule, sources: sourcesOf(rule), jwks: new JwksSource({ issuer: ISSUER, jwks: rule.jwks, log, metrics: { fetches: noop } }) }],
    { outcomes: noop },
    log,
  );
  const request = (t: string | undefined) => ({
    headers: t ? { authorization: `Bearer ${t}`, host: 'reviews' } : { host: 'reviews' },
    host: 'reviews',
    path: '/reviews/0',
  });
  const check = await authn.authenticate(request(token));
  if (check.kind !== 'pass' || check.principal !== `${ISSUER}/alice`) throw new Error('ambit did not accept the bench token');
  return [
    { alg, path: 'crypto.verify', us: await cpuPerCall(N, raw) },
    { alg, path: 'jose.jwtVerify', us: await cpuPerCall(N, () => jwtVerify(token, keys, { issuer: ISSUER, audience: 'reviews' })) },
    { alg, path: 'ambit, new token', us: await cpuPerCall(N, (i) => authn.authenticate(request(fresh[i % DISTINCT]))) },
    { alg, path: 'ambit, repeated token', us: await cpuPerCall(N, () => authn.authenticate(request(token))) },
    { alg, path: 'ambit, no token', us: await cpuPerCall(N, () => authn.authenticate(request(undefined))) },
  ];
}

async function main(): Promise<void> {
  const load = loadAverage();
  const rows = [...(await measure('RS256')), ...(await measure('ES256'))];
  const floor = (alg: string) => rows.find((r) => r.alg === alg && r.path === 'crypto.verify')!.us;
  const lines = [
    '| alg | path | CPU µs per check | vs crypto.verify |',
    '| --- | --- | ---: | ---: |',
    ...rows.map((r) => `| ${r.alg} | ${r.path} | ${r.us.toFixed(1)} | ${(r.us / floor(r.alg)).toFixed(2)}x |`),
  ];
  const table = lines.join('\n');
  console.log(table);
  if (!WRITE) return;
  await writeSection(
    HEADING,
    [
      `\`npm run bench:jwt\` (n=${N} sequential checks per row, one process), ${machine()}, load average ${load} at start.`,
      '',
      table,
      '',
      'crypto.verify is the floor every JWT filter pays per new token (one signature check); the ratio is what',
      'parsing, claim checks (exp, nbf, iss, aud), token lookup and header handling add on top. A repeated token',
      'is served from the verified cache (exp/nbf and the key set re-checked on each use).',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

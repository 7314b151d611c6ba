/**
 * RequestAuthentication in a running waypoint, with Istio's own JWT samples
 * (../shared/fixtures/istio/jwt) and tokens this test signs: 401 with Envoy's
 * body for every kind of bad token, no token passes to AuthorizationPolicy,
 * claims reach `requestPrincipals` and `when`, and remote keys (jwksUri, OpenID
 * discovery) are fetched from a server the test runs, rotated, and survive it
 * being down.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { parseDocuments, type Resource } from '../../core/config/index.js';
import { eventually } from '../helpers/eventually.js';
import { ISTIO_FIXTURES, MISSING_FIXTURES } from '../helpers/fixtures.js';
import { startWaypoint, type EndpointSpec } from '../helpers/waypoint-harness.js';

const JWT_DIR = join(ISTIO_FIXTURES, 'jwt');
const ISSUER = 'testing@secure.istio.io';

/** reviews, which keeps the request headers it last received, so a test sees what the waypoint forwarded. */
function reviews(): { endpoints: EndpointSpec[]; seen: () => IncomingHttpHeaders } {
  let last: IncomingHttpHeaders = {};
  const handler: EndpointSpec['handler'] = (req, res) => {
    last = req.headers;
    res.end('reviews-v1');
  };
  return { endpoints: [{ service: 'reviews', version: 'v1', handler }], seen: () => last };
}
const REVIEWS = reviews().endpoints;

const yaml = (text: string): Resource[] => parseDocuments(text, 'jwt.yaml');
const indent = (text: string, n: number) => text.replace(/\n/g, `\n${' '.repeat(n)}`);

function requestAuthentication(rules: string): Resource[] {
  return yaml(`
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: reviews-jwt, namespace: default}
spec:
  targetRefs:
  - {kind: Service, group: "", name: reviews}
  jwtRules:
  ${indent(rules, 2)}
`);
}

function policy(rule: string): Resource[] {
  return yaml(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  targetRefs:
  - {kind: Service, group: "", name: reviews}
  action: ALLOW
  rules:
  - ${indent(rule, 4)}
`);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Signer {
  jwk: JWK;
  sign(claims: Record<string, unknown>, opts?: { kid?: string; alg?: string }): Promise<string>;
}

async function signer(kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    jwk,
    sign: (claims, opts = {}) => new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? kid, typ: 'JWT' }).sign(privateKey),
  };
}

/** A JWKS (and OpenID discovery) server on loopback whose keys the test swaps. */
async function keyServer(
  t: import('ava').ExecutionContext,
): Promise<{ url: string; keys: JWK[]; hits: () => number; stop(): Promise<void>; start(): Promise<void> }> {
  const state = { keys: [] as JWK[], hits: 0 };
  let server: Server | undefined;
  let port = 0;
  const start = async () => {
    server = createServer((req, res) => {
      state.hits++;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        return res.end(JSON.stringify({ issuer: `http://127.0.0.1:${port}`, jwks_uri: `http://127.0.0.1:${port}/keys` }));
      if (req.url === '/keys') return res.end(JSON.stringify({ keys: state.keys }));
      res.statusCode = 404;
      res.end('{}');
    });
    server.listen(port, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    port = (server.address() as AddressInfo).port;
  };
  const stop = () => new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await start();
  t.teardown(stop);
  return {
    url: `http://127.0.0.1:${port}`,
    get keys() {
      return state.keys;
    },
    set keys(k: JWK[]) {
      state.keys = k;
    },
    hits: () => state.hits,
    stop,
    start,
  };
}

const now = () => Math.floor(Date.now() / 1000);

if (!existsSync(JWT_DIR)) {
  test.skip(`waypoint JWT with Istio's samples: ${MISSING_FIXTURES}`, () => {});
} else {
  const demo = readFileSync(join(JWT_DIR, 'demo.jwt'), 'utf8').trim();
  const groups = readFileSync(join(JWT_DIR, 'groups-scope.jwt'), 'utf8').trim();
  const jwks = readFileSync(join(JWT_DIR, 'jwks.json'), 'utf8').trim();
  const inline = `- issuer: ${ISSUER}\n  jwks: '${jwks.replace(/\s+/g, ' ')}'`;

  test("Istio's samples: demo.jwt 200, no token 403 from RBAC, a forged token 401 with Envoy's body", async (t) => {
    const r = reviews();
    const h = await startWaypoint(t, r.endpoints, [
      ...requestAuthentication(inline),
      ...policy(`from:\n- source:\n    requestPrincipals: ["${ISSUER}/${ISSUER}"]`),
    ]);
    const ok = await h.request({ headers: bearer(demo) });
    t.is(ok.status, 200, ok.body);
    t.is(r.seen().authorization, undefined, 'the token is not forwarded by default');
    const none = await h.request();
    t.is(none.status, 403);
    t.is(none.body, 'RBAC: access denied');
    const [head, payload, sig] = demo.split('.');
    const forged = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'admin' })).toString('base64url')}.${sig}`;
    const bad = await h.request({ headers: bearer(forged) });
    t.is(bad.status, 401);
    t.is(bad.body, 'Jwt verification fails');
    t.regex(String(bad.headers['www-authenticate']), /^Bearer realm="http:\/\/[^"]+\/", error="invalid_token"$/);
    const metrics = await h.waypoint.metrics.registry.metrics();
    t.regex(metrics, /ambit_waypoint_jwt_authn_total\{outcome="ok",reason=""\} 1/);
    t.regex(metrics, /ambit_waypoint_jwt_authn_total\{outcome="denied",reason="Jwt verification fails"\} 1/);
  });

  test('a when on request.auth.claims[groups] admits groups-scope.jwt and refuses demo.jwt', async (t) => {
    const h = await startWaypoint(t, REVIEWS, [...requestAuthentication(inline), ...policy('when:\n- key: request.auth.claims[groups]\n  values: ["group1"]')]);
    t.is((await h.request({ headers: bearer(groups) })).status, 200);
    t.is((await h.request({ headers: bearer(demo) })).status, 403);
  });

  test('forwardOriginalToken, outputPayloadToHeader, outputClaimToHeaders; a client cannot forge the output headers', async (t) => {
    const rules = `${inline}\n  forwardOriginalToken: true\n  outputPayloadToHeader: x-jwt-payload\n  outputClaimToHeaders:\n  - {header: x-jwt-groups, claim: groups}\n  - {header: x-jwt-sub, claim: sub}`;
    const r = reviews();
    const seen = r.seen;
    const h = await startWaypoint(t, r.endpoints, requestAuthentication(rules));
    t.is((await h.request({ headers: { ...bearer(groups), 'x-jwt-sub': 'forged' } })).status, 200);
    t.is(seen().authorization, `Bearer ${groups}`);
    t.is(seen()['x-jwt-groups'], 'group1,group2');
    t.is(seen()['x-jwt-sub'], ISSUER);
    t.is((JSON.parse(Buffer.from(String(seen()['x-jwt-payload']), 'base64url').toString()) as { iss?: string }).iss, ISSUER);
    t.is((await h.request({ headers: { 'x-jwt-sub': 'forged', 'x-jwt-payload': 'e30' } })).status, 200);
    t.is(seen()['x-jwt-sub'], undefined, 'no token: the forged output header was removed');
    t.is(seen()['x-jwt-payload'], undefined);
  });

  test('tokens from a named header with a prefix, a query parameter and a cookie', async (t) => {
    const rules = `${inline}\n  fromHeaders:\n  - {name: x-token, prefix: "Token "}\n  fromParams: [jwt]\n  fromCookies: [session]`;
    const r = reviews();
    const h = await startWaypoint(t, r.endpoints, [...requestAuthentication(rules), ...policy('from:\n- source:\n    requestPrincipals: ["*"]')]);
    t.is((await h.request({ headers: { 'x-token': `Token ${demo}` } })).status, 200);
    t.is(r.seen()['x-token'], undefined);
    t.is((await h.request({ path: `/?jwt=${demo}` })).status, 200);
    t.is((await h.request({ headers: { cookie: `a=b; session=${demo}` } })).status, 200);
    t.is((await h.request({ headers: bearer(demo) })).status, 403, 'Authorization is not a location this rule reads: unauthenticated');
  });
}

test('tokens signed here: expired, not yet valid, wrong issuer, wrong audience, wrong signature, alg none, unknown kid, oversized', async (t) => {
  const key = await signer('k1');
  const other = await signer('k1');
  const rules = `- issuer: https://issuer.test\n  audiences: [reviews]\n  jwks: '${JSON.stringify({ keys: [key.jwk] })}'`;
  const h = await startWaypoint(t, REVIEWS, requestAuthentication(rules));
  const good = { iss: 'https://issuer.test', sub: 'alice', aud: 'reviews', exp: now() + 600 };
  const status = async (token: string) => {
    const r = await h.request({ headers: bearer(token) });
    return `${r.status} ${r.body}`;
  };
  t.is(await status(await key.sign(good)), '200 reviews-v1');
  t.is(await status(await key.sign({ ...good, exp: now() - 120 })), '401 Jwt is expired');
  t.is(await status(await key.sign({ ...good, exp: now() - 30 })), '200 reviews-v1', "within Envoy's 60 s of clock skew");
  t.is(await status(await key.sign({ ...good, nbf: now() + 600 })), '401 Jwt not yet valid');
  t.is(await status(await key.sign({ ...good, iss: 'https://elsewhere.test' })), '401 Jwt issuer is not configured');
  t.is(await status(await key.sign({ ...good, aud: 'ratings' })), '401 Audiences in Jwt are not allowed');
  t.is(await status(await other.sign(good)), '401 Jwt verification fails');
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`;
  t.is(await status(unsigned), '401 Jwt verification fails');
  t.is(await status(await key.sign(good, { kid: 'k9' })), "401 Jwks doesn't have key to match kid or alg from Jwt");
  t.is(await status('not-a-jwt'), '401 Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
  t.is(await status(await key.sign({ ...good, padding: 'x'.repeat(10_000) })), '401 Jwt is too large');
});

test('jwksUri: fetched when first needed, a rotated key is picked up, the last good keys survive the server going down', async (t) => {
  const ks = await keyServer(t);
  const k1 = await signer('k1');
  const k2 = await signer('k2');
  ks.keys = [k1.jwk];
  const h = await startWaypoint(t, REVIEWS, requestAuthentication(`- issuer: https://issuer.test\n  jwksUri: ${ks.url}/keys`));
  const claims = { iss: 'https://issuer.test', sub: 'bob', exp: now() + 600 };
  t.is((await h.request({ headers: bearer(await k1.sign(claims)) })).status, 200);
  // Rotation: the server now serves k2 only; a token with the new kid makes the waypoint refetch (once per cooldown).
  ks.keys = [k2.jwk];
  const rotated = await k2.sign(claims);
  await eventually(async () => (await h.request({ headers: bearer(rotated) })).status === 200, 15_000);
  await ks.stop();
  t.is((await h.request({ headers: bearer(rotated) })).status, 200, 'keys kept while the JWKS server is down');
  t.is((await h.request({ headers: bearer(await k1.sign(claims)) })).status, 401, 'the rotated-out key no longer verifies');
  t.regex(await h.waypoint.metrics.registry.metrics(), /ambit_waypoint_jwks_fetches_total\{issuer="https:\/\/issuer.test",result="ok"\} 2/);
});

test('a JWKS server down at start: 401 "Jwks remote fetch is failed", counted, no crash; it works once the server is up', async (t) => {
  const ks = await keyServer(t);
  const k1 = await signer('k1');
  ks.keys = [k1.jwk];
  await ks.stop();
  const h = await startWaypoint(t, REVIEWS, requestAuthentication(`- issuer: https://issuer.test\n  jwksUri: ${ks.url}/keys\n  timeout: 1s`));
  const token = await k1.sign({ iss: 'https://issuer.test', sub: 'carol', exp: now() + 600 });
  const refused = await h.request({ headers: bearer(token) });
  t.is(`${refused.status} ${refused.body}`, '401 Jwks remote fetch is failed');
  t.is((await h.request()).status, 200, 'requests without a token still pass');
  t.regex(await h.waypoint.metrics.registry.metrics(), /ambit_waypoint_jwks_fetches_total\{issuer="https:\/\/issuer.test",result="error"\} [1-9]/);
  await ks.start();
  await eventually(async () => (await h.request({ headers: bearer(token) })).status === 200, 10_000);
  t.pass();
});

test('no jwks and no jwksUri: the keys are found by OpenID discovery from the issuer', async (t) => {
  const ks = await keyServer(t);
  const k1 = await signer('k1');
  ks.keys = [k1.jwk];
  const h = await startWaypoint(t, REVIEWS, requestAuthentication(`- issuer: ${ks.url}`));
  const r = await h.request({ headers: bearer(await k1.sign({ iss: ks.url, sub: 'dave', exp: now() + 600 })) });
  t.is(r.status, 200, r.body);
  t.is(ks.hits(), 2, 'one discovery document and one JWKS');
});

/**
 * OidcLogin in a running waypoint against a real OpenID provider
 * (oidc-provider, certified) the test starts on loopback: a browser made of
 * fetch logs in through the provider's own login and consent forms (PKCE,
 * state, nonce checked on the way), reaches the protected page, carries the ID
 * token's claims to AuthorizationPolicy, has its session refreshed with the
 * refresh token, sees a tampered cookie refused and logs out at the provider;
 * then the same login once in headless Chromium.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { parseDocuments, type Resource } from '../../core/config/index.js';
import { FetchBrowser } from '../helpers/fetch-browser.js';
import { startFrontDoor, startIssuer, type TestIssuer } from '../helpers/oidc-provider.js';
import { startWaypoint, type EndpointSpec, type WaypointHarness } from '../helpers/waypoint-harness.js';

const CLIENT_ID = 'ambit-web';
const CLIENT_SECRET = 'a-client-secret-of-enough-length-0123456789';

interface Setup {
  h: WaypointHarness;
  issuer: TestIssuer;
  front: string;
  /** The Cookie header each request reached reviews with. */
  seenCookies: (string | undefined)[];
  logins: (outcome: string) => Promise<number>;
}

function oidcLogin(issuer: string, secretFile: string): Resource[] {
  return parseDocuments(
    `
apiVersion: ambit.dev/v1alpha1
kind: OidcLogin
metadata: {name: reviews-login, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  issuer: ${issuer}
  clientId: ${CLIENT_ID}
  clientSecretFile: ${secretFile}
  scopes: [openid, profile, email]
  cookie: {name: reviews_session, secure: false, sameSite: Lax, maxAge: 1h}
  exemptPaths: [/healthz]
  logout: {path: /logout, postLogoutRedirectUri: /}
`,
    'oidc.yaml',
  );
}

function adminsOnly(issuer: string): Resource[] {
  return parseDocuments(
    `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: ALLOW
  rules:
  - to: [{operation: {paths: [/healthz]}}]
  - from: [{source: {requestPrincipals: ["${issuer}/*"]}}]
    to: [{operation: {paths: [/admin]}}]
    when: [{key: "request.auth.claims[groups]", values: [admins]}]
  - from: [{source: {requestPrincipals: ["${issuer}/*"]}}]
    to: [{operation: {notPaths: [/admin]}}]
`,
    'policy.yaml',
  );
}

async function setup(t: ExecutionContext, tokenTtlS = 600): Promise<Setup> {
  const seenCookies: (string | undefined)[] = [];
  const endpoints: EndpointSpec[] = [
    {
      service: 'reviews',
      version: 'v1',
      handler: (req, res) => {
        seenCookies.push(req.headers.cookie);
        res.setHeader('content-type', 'text/html');
        res.end(`<html><body><p id="who">reviews-v1 at ${req.url}</p></body></html>`);
      },
    },
  ];
  const h = await startWaypoint(t, endpoints, []);
  const front = await startFrontDoor(t, '127.0.0.2', () => h.tunnel('reviews'));
  const issuer = await startIssuer(t, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, origin: front, tokenTtlS });
  const dir = mkdtempSync(join(tmpdir(), 'ambit-oidc-'));
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  h.apply([...oidcLogin(issuer.issuer, secretFile), ...adminsOnly(issuer.issuer)]);
  const logins = async (outcome: string) => {
    const m = await h.waypoint.metrics.oidcLogins.get();
    return m.values.filter((v) => v.labels.outcome === outcome).reduce((a, v) => a + v.value, 0);
  };
  return { h, issuer, front, seenCookies, logins };
}

/** From the protected page through the provider's login and consent forms, back to the page. */
async function logIn(b: FetchBrowser, front: string, user: string, path = '/'): Promise<ReturnType<FetchBrowser['go']>> {
  const loginPage = await b.go(`${front}${path}`);
  if (!/name="login"/.test(loginPage.body))
    throw new Error(`expected the provider's login form at ${loginPage.url}, got ${loginPage.status}: ${loginPage.body.slice(0, 200)}`);
  const consent = await b.submit(loginPage, { login: user, password: 'any' });
  return /name="prompt" value="consent"/.test(consent.body) ? b.submit(consent) : consent;
}

test('a browser logs in through the provider with PKCE, state and nonce, and reaches the page; the session stays with the waypoint', async (t) => {
  const s = await setup(t);
  const b = new FetchBrowser();
  const page = await logIn(b, s.front, 'alice', '/reviews/1?sort=new');
  t.is(page.status, 200, page.body);
  t.is(page.url, `${s.front}/reviews/1?sort=new`, 'back where the browser started');
  t.regex(page.body, /reviews-v1 at \/reviews\/1\?sort=new/);
  const authorize = new URL(b.visited.find((u) => u.startsWith(`${s.issuer.issuer}/auth`))!);
  t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
  t.is(authorize.searchParams.get('response_type'), 'code');
  t.is(authorize.searchParams.get('redirect_uri'), `${s.front}/oauth2/callback`);
  t.truthy(authorize.searchParams.get('state'));
  t.truthy(authorize.searchParams.get('nonce'));
  t.regex(authorize.searchParams.get('scope') ?? '', /\bopenid\b/);
  t.deepEqual(s.issuer.grants, ['authorization_code']);
  const cookie = b.cookies(s.front).get('reviews_session');
  t.truthy(cookie);
  t.is(cookie!.split('.').length, 5, 'a compact JWE');
  t.false(b.cookies(s.front).has('reviews_session_login'), 'the login state cookie is cleared');
  // The service never sees the session cookie.
  t.true(s.seenCookies.every((c) => !c?.includes('reviews_session')));
  t.is(await s.logins('ok'), 1);
  // The session is enough on its own: no new login.
  const again = await b.go(`${s.front}/other`);
  t.is(again.status, 200);
  t.is(s.issuer.grants.length, 1);
});

test('without a session: a browser is sent to the issuer, an API client gets 401, an exempt path passes', async (t) => {
  const s = await setup(t);
  const browser = await fetch(`${s.front}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.is(browser.status, 302);
  t.true(browser.headers.get('location')!.startsWith(`${s.issuer.issuer}/auth?`));
  const api = await fetch(`${s.front}/`, { headers: { accept: 'application/json' }, redirect: 'manual' });
  t.is(api.status, 401);
  t.is(await api.text(), 'OIDC login required');
  t.regex(api.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.2:\d+"/);
  const post = await fetch(`${s.front}/`, { method: 'POST', headers: { accept: 'text/html' }, redirect: 'manual' });
  t.is(post.status, 401, 'a POST is not replayed through a login');
  const health = await fetch(`${s.front}/healthz`, { redirect: 'manual' });
  t.is(health.status, 200);
});

test('the ID token claims reach AuthorizationPolicy as request.auth.*: admins reach /admin, users do not', async (t) => {
  const s = await setup(t);
  const alice = new FetchBrowser();
  await logIn(alice, s.front, 'alice');
  t.is((await alice.go(`${s.front}/admin`)).status, 200);
  const bob = new FetchBrowser();
  t.is((await logIn(bob, s.front, 'bob')).status, 200);
  const denied = await bob.go(`${s.front}/admin`);
  t.is(denied.status, 403);
  t.is(denied.body, 'RBAC: access denied');
});

test('a tampered, foreign or truncated session cookie is refused and cleared', async (t) => {
  const s = await setup(t);
  const b = new FetchBrowser();
  await logIn(b, s.front, 'alice');
  const good = b.cookies(s.front).get('reviews_session')!;
  const parts = good.split('.');
  const flip = (x: string) => (x[5] === 'A' ? `${x.slice(0, 5)}B${x.slice(6)}` : `${x.slice(0, 5)}A${x.slice(6)}`);
  const tampered = [parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]].join('.');
  for (const value of [tampered, good.slice(0, -4), 'not-a-jwe']) {
    const res = await fetch(`${s.front}/`, { headers: { accept: 'application/json', cookie: `reviews_session=${value}` }, redirect: 'manual' });
    t.is(res.status, 401, value.slice(0, 20));
    t.true(res.headers.getSetCookie().some((c) => /^reviews_session=;.*Max-Age=0/.test(c)));
  }
  t.is(await s.logins('bad_cookie'), 3);
  const ok = await fetch(`${s.front}/`, { headers: { accept: 'application/json', cookie: `reviews_session=${good}` }, redirect: 'manual' });
  t.is(ok.status, 200);
});

test("a session near its tokens' end is refreshed with the refresh token, and the browser gets the new cookie", async (t) => {
  // Tokens for 62 s: a minute before their end (2 s after login) the waypoint refreshes.
  const s = await setup(t, 62);
  const b = new FetchBrowser();
  await logIn(b, s.front, 'alice');
  const first = b.cookies(s.front).get('reviews_session');
  await new Promise((r) => setTimeout(r, 2500));
  const page = await b.go(`${s.front}/after-refresh`);
  t.is(page.status, 200);
  t.deepEqual(s.issuer.grants, ['authorization_code', 'refresh_token']);
  t.not(b.cookies(s.front).get('reviews_session'), first);
  t.is(await s.logins('refreshed'), 1);
  // The renewed session is good for the next request without another refresh.
  t.is((await b.go(`${s.front}/`)).status, 200);
  t.is(s.issuer.grants.length, 2);
});

test('logout clears the session and ends the one at the provider (RP-initiated logout)', async (t) => {
  const s = await setup(t);
  const b = new FetchBrowser();
  await logIn(b, s.front, 'alice');
  const confirm = await b.go(`${s.front}/logout`);
  t.false(b.cookies(s.front).has('reviews_session'));
  const endSession = new URL(b.visited.find((u) => u.startsWith(`${s.issuer.issuer}/session/end`))!);
  t.truthy(endSession.searchParams.get('id_token_hint'));
  t.is(endSession.searchParams.get('post_logout_redirect_uri'), `${s.front}/`);
  // The provider asks to confirm; saying yes lands on the post-logout page, which wants a login again.
  t.regex(confirm.body, /logout/);
  const after = await b.submit(confirm, { logout: 'yes' });
  t.true(b.visited.includes(`${s.front}/`));
  t.regex(after.body, /name="login"/, 'the provider asks for credentials again: its session ended too');
  t.is(await s.logins('logout'), 1);
});

test("headless Chromium logs in through the provider's pages and reaches the protected page", async (t) => {
  const { chromium } = await import('playwright-core');
  const s = await setup(t);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  // The provider's pages import web fonts: nothing leaves loopback.
  await context.route('**/*', (route) => (/^http:\/\/127\.0\.0\.[12]:/.test(route.request().url()) ? route.continue() : route.abort()));
  const page = await context.newPage();
  await page.goto(`${s.front}/welcome`);
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=prompt][value=consent], #who', { state: 'attached' });
  if (await page.$('input[name=prompt][value=consent]')) await page.click('button[type=submit]');
  await page.waitForSelector('#who');
  t.is(await page.textContent('#who'), 'reviews-v1 at /welcome');
  t.is(page.url(), `${s.front}/welcome`);
  const cookies = await context.cookies(s.front);
  const session = cookies.find((c) => c.name === 'reviews_session');
  t.truthy(session);
  t.true(session!.httpOnly);
  t.is(session!.sameSite, 'Lax');
});

test('a callback whose state this browser did not start is refused, and nothing is logged in', async (t) => {
  const s = await setup(t);
  const b = new FetchBrowser();
  // A login started, then a callback with another state (a forged or replayed redirect).
  await b.go(`${s.front}/`);
  const page = await b.go(`${s.front}/oauth2/callback?code=stolen&state=forged`);
  t.is(page.status, 400);
  t.regex(page.body, /OIDC login failed: the state does not match/);
  t.false(b.cookies(s.front).has('reviews_session'));
  t.deepEqual(s.issuer.grants, [], 'the code is never redeemed');
  const bare = await fetch(`${s.front}/oauth2/callback?code=x&state=y`, { redirect: 'manual' });
  t.is(bare.status, 400, 'no login cookie at all');
});

test('an unreadable client secret file keeps the protected paths closed (503), not open', async (t) => {
  const s = await setup(t);
  s.h.apply([...oidcLogin(s.issuer.issuer, '/nonexistent/ambit-oidc-secret'), ...adminsOnly(s.issuer.issuer)]);
  const res = await fetch(`${s.front}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.is(res.status, 503);
  t.regex(await res.text(), /client secret file \/nonexistent\/ambit-oidc-secret cannot be read \(ENOENT\)/);
  t.is((await fetch(`${s.front}/healthz`, { redirect: 'manual' })).status, 200, 'exempt paths still pass');
});

test('an issuer unreachable at first: 503 naming it, no crash; logins work once it answers', async (t) => {
  const s = await setup(t);
  const dir = mkdtempSync(join(tmpdir(), 'ambit-oidc-'));
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, CLIENT_SECRET);
  // A port nothing listens on: the issuer is down.
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
  s.h.apply(oidcLogin(`http://127.0.0.1:${closed}`, secretFile));
  const down = await fetch(`${s.front}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.is(down.status, 503);
  t.regex(await down.text(), new RegExp(`OpenID configuration of http://127\\.0\\.0\\.1:${closed} could not be had`));
  t.is(await s.logins('failed'), 1);
  // The real issuer: the same waypoint logs the browser in.
  s.h.apply([...oidcLogin(s.issuer.issuer, secretFile), ...adminsOnly(s.issuer.issuer)]);
  t.is((await logIn(new FetchBrowser(), s.front, 'alice')).status, 200);
});

test('a request with a bearer JWT that RequestAuthentication verifies is not sent to the login', async (t) => {
  const s = await setup(t);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'api', alg: 'ES256' };
  const api = 'https://api-issuer.example';
  const dir = mkdtempSync(join(tmpdir(), 'ambit-oidc-'));
  const secretFile = join(dir, 'client-secret');
  writeFileSync(secretFile, CLIENT_SECRET);
  const ra = parseDocuments(
    `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: api, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  jwtRules: [{issuer: "${api}", jwks: '${JSON.stringify({ keys: [jwk] })}'}]
`,
    'ra.yaml',
  );
  s.h.apply([...oidcLogin(s.issuer.issuer, secretFile), ...ra]);
  const token = await new SignJWT({ sub: 'robot' }).setProtectedHeader({ alg: 'ES256', kid: 'api' }).setIssuer(api).setExpirationTime('5m').sign(privateKey);
  const res = await fetch(`${s.front}/`, { headers: { accept: 'text/html', authorization: `Bearer ${token}` }, redirect: 'manual' });
  t.is(res.status, 200);
  t.is((await fetch(`${s.front}/`, { headers: { accept: 'text/html' }, redirect: 'manual' })).status, 302);
});

/**
 * OidcLogin end to end on netns hosts with real daemons and a waypoint (issue
 * 15): a (a browser, an enrolled user), b (reviews), c (reviews' waypoint) and
 * d (the OpenID provider, a process on a host outside the mesh). The browser
 * asks for reviews by its mesh name, so those requests are captured and
 * carried over HBONE to the waypoint; the provider it is redirected to is at
 * d's address, which is no mesh address, so those go straight there, as a
 * browser's requests to a company's login page would. The waypoint on c
 * reaches the same URL for discovery, the token endpoint and the keys: the
 * issuer URL must be one every host resolves, hence d's address, not a name.
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { requireNetns } from '../helpers/netns-guard.js';
import { waitForOutput } from '../helpers/netns.js';
import { eventually } from '../helpers/eventually.js';
import { createMesh, type Mesh } from '../helpers/mesh.js';
import { httpLoad } from '../helpers/http-load.js';
import { metricSum } from '../helpers/prometheus-text.js';

const CLIENT_UID = 2501;
const CLIENT_ID = 'ambit-web';
const CLIENT_SECRET = 'a-client-secret-of-enough-length-0123456789';
const ISSUER_PORT = 9443;
const HOST = 'reviews.default.svc.cluster.local';
const ORIGIN = `http://${HOST}:9080`;
const BROWSER = fileURLToPath(new URL('fixtures/oidc-browser.js', import.meta.url));
const ISSUER_PROCESS = fileURLToPath(new URL('fixtures/oidc-issuer.js', import.meta.url));

interface Page {
  status: number;
  url: string;
  body: string;
  visited: string[];
}

let mesh: Mesh;
let issuer: string;
/** Grant types the provider's token endpoint made, in order (from its stdout). */
const grants: string[] = [];
/** Where each browser's cookie jar lives: a directory the enrolled user can write. */
let jars: string;

/** One browser step on a as the enrolled user; `jar` names the browser. */
async function browse(jar: string, step: 'go' | 'login' | 'logout', url: string, user?: string): Promise<Page> {
  const r = await mesh.asUser('a', CLIENT_UID, process.execPath, [BROWSER, join(jars, `${jar}.json`), step, url, ...(user ? [user] : [])], 30_000);
  if (r.code !== 0) throw new Error(`browser ${jar} ${step} ${url}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Page;
}

function jar(name: string): Record<string, Record<string, string>> {
  return JSON.parse(readFileSync(join(jars, `${name}.json`), 'utf8')) as Record<string, Record<string, string>>;
}

async function logins(outcome: string): Promise<number> {
  const text = await mesh.admin('c', '/metrics', 15021);
  return metricSum(text, 'ambit_waypoint_oidc_logins_total', { outcome });
}

async function apply(yaml: string): Promise<void> {
  const r = await mesh.ambit('store', ['apply', '-f', '-'], yaml);
  if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
}

test.before(async () => {
  requireNetns();
  mesh = await createMesh(['a', 'b', 'c', 'd']);
  for (const host of ['a', 'b', 'c']) await mesh.startDaemon(host);
  const b = mesh.topo.host('b').address;
  // The page says which path it served and whether the session cookie reached it (it must not).
  const server = `require('http').createServer((q, s) => { s.setHeader('content-type', 'text/html'); s.end('<p id="who">reviews-v1 at ' + q.url + (/reviews_session/.test(q.headers.cookie || '') ? ' with the session cookie' : '') + '</p>'); }).listen(9080, ${JSON.stringify(b)}, () => console.log('listening'))`;
  await waitForOutput(mesh.topo.spawn('b', process.execPath, ['-e', server]), /listening/);
  await mesh.enroll('b', ['reviews', '--port', '9080']);
  await mesh.enroll('a', ['productpage', '--port', '9000', '--user', String(CLIENT_UID)]);
  const attach = await mesh.ambit('store', ['waypoint', 'attach', 'reviews', '--node', 'c']);
  if (attach.code !== 0) throw new Error(`attach: ${attach.stderr}`);

  const d = mesh.topo.host('d').address;
  const provider = mesh.topo.spawn('d', process.execPath, [ISSUER_PROCESS, d, String(ISSUER_PORT), CLIENT_ID, CLIENT_SECRET, ORIGIN]);
  provider.stderr?.resume();
  let lines = '';
  provider.stdout?.on('data', (chunk: Buffer) => {
    lines += chunk.toString();
    for (let nl = lines.indexOf('\n'); nl >= 0; nl = lines.indexOf('\n')) {
      const text = lines.slice(0, nl);
      lines = lines.slice(nl + 1);
      // oidc-provider prints its own warnings (development keys, interactions) to stdout too.
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as { issuer?: string; grant?: string };
      if (line.issuer) issuer = line.issuer;
      if (line.grant) grants.push(line.grant);
    }
  });
  await eventually(() => Promise.resolve(issuer !== undefined), 20_000);

  // The secret is read on the waypoint's host (c): the file is there, only root reads it.
  const secretFile = join(mesh.dir, 'reviews-client-secret');
  writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  jars = mkdtempSync(join(tmpdir(), 'ambit-oidc-jars-'));
  chmodSync(jars, 0o777);
  await eventually(async () => {
    const r = await httpLoad(mesh, 'a', CLIENT_UID, `${ORIGIN}/`, 1, 1);
    return r.statuses['200'] === 1;
  }, 30_000);
  await apply(`apiVersion: ambit.dev/v1alpha1
kind: OidcLogin
metadata: {name: reviews-login, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  issuer: ${issuer}
  clientId: ${CLIENT_ID}
  clientSecretFile: ${secretFile}
  scopes: [openid, profile, email]
  cookie: {name: reviews_session, secure: false, sameSite: Lax, maxAge: 1h}
  logout: {path: /logout, postLogoutRedirectUri: /}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-admins, namespace: default}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["${issuer}/*"]}}]
    to: [{operation: {paths: [/admin]}}]
    when: [{key: "request.auth.claims[groups]", values: [admins]}]
  - from: [{source: {requestPrincipals: ["${issuer}/*"]}}]
    to: [{operation: {notPaths: [/admin]}}]
`);
  // The login is in force once a browser with no session is sent to the provider.
  await eventually(async () => (await browse('probe', 'go', `${ORIGIN}/`)).url.startsWith(`${issuer}/interaction/`), 30_000);
});

test.after.always(async () => {
  await mesh?.destroy();
  if (jars) rmSync(jars, { recursive: true, force: true });
});

test.serial("the browser follows the redirects, posts the provider's login form and reaches the protected page through the waypoint", async (t) => {
  const page = await browse('alice', 'login', `${ORIGIN}/reviews/1?sort=new`, 'alice');
  t.is(page.status, 200, page.body);
  t.is(page.url, `${ORIGIN}/reviews/1?sort=new`, 'back where the browser started');
  t.is(page.body, '<p id="who">reviews-v1 at /reviews/1?sort=new</p>', 'served by reviews, and the session cookie stayed with the waypoint');
  const authorize = new URL(page.visited.find((u) => u.startsWith(`${issuer}/auth?`))!);
  t.is(authorize.searchParams.get('redirect_uri'), `${ORIGIN}/oauth2/callback`, 'the origin the browser used, from its Host');
  t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
  t.truthy(authorize.searchParams.get('state'));
  t.truthy(authorize.searchParams.get('nonce'));
  t.true(page.visited.some((u) => u.startsWith(`${ORIGIN}/oauth2/callback?code=`)));
  t.true(
    page.visited.some((u) => u.startsWith(`${issuer}/interaction/`)),
    "the provider's own login form was posted",
  );
  t.deepEqual(grants, ['authorization_code'], 'the waypoint on c redeemed the code at the provider on d');
  const session = jar('alice')[HOST]?.reviews_session;
  t.is(session?.split('.').length, 5, 'a compact JWE session cookie for the service host');
  t.is(await logins('ok'), 1);
  // The browser's requests reached the waypoint over HBONE with the client's verified identity: captured, not direct.
  const served = await mesh.admin('c', '/metrics', 15021);
  t.true(metricSum(served, 'istio_requests_total', { source_principal: 'spiffe://cluster.local/ns/default/sa/productpage', response_code: '302' }) > 0);
  // The session alone is enough now: no trip to the provider.
  const again = await browse('alice', 'go', `${ORIGIN}/other`);
  t.is(again.status, 200);
  t.deepEqual(again.visited, [`${ORIGIN}/other`]);
});

test.serial('the ID token claims reach AuthorizationPolicy as request.auth.*: an admin reaches /admin, a user gets 403', async (t) => {
  const admin = await browse('alice', 'go', `${ORIGIN}/admin`);
  t.is(admin.status, 200);
  t.is(admin.body, '<p id="who">reviews-v1 at /admin</p>');
  t.is((await browse('bob', 'login', `${ORIGIN}/`, 'bob')).status, 200);
  const denied = await browse('bob', 'go', `${ORIGIN}/admin`);
  t.is(denied.status, 403);
  t.is(denied.body, 'RBAC: access denied');
});

test.serial('a tampered session cookie is refused and cleared: the browser is sent to the provider again', async (t) => {
  const cookies = jar('alice');
  const good = cookies[HOST]!.reviews_session!;
  const parts = good.split('.');
  const ciphertext = parts[3]!;
  parts[3] = `${ciphertext.slice(0, 5)}${ciphertext[5] === 'A' ? 'B' : 'A'}${ciphertext.slice(6)}`;
  const forged = join(jars, 'mallory.json');
  writeFileSync(forged, JSON.stringify({ [HOST]: { reviews_session: parts.join('.') } }));
  // Written by the test (root), rewritten by the browser (the enrolled user).
  chownSync(forged, CLIENT_UID, CLIENT_UID);
  const before = await logins('bad_cookie');
  const page = await browse('mallory', 'go', `${ORIGIN}/`);
  t.true(page.url.startsWith(`${issuer}/interaction/`), `sent to the provider's login, not the page: ${page.url}`);
  t.regex(page.body, /name="login"/);
  t.false('reviews_session' in (jar('mallory')[HOST] ?? {}), 'the bad cookie was cleared');
  t.is(await logins('bad_cookie'), before + 1);
  // The untouched cookie still opens.
  t.is((await browse('alice', 'go', `${ORIGIN}/`)).status, 200);
});

test.serial("logout clears the session and ends the provider's: the next visit asks for credentials again", async (t) => {
  const page = await browse('alice', 'logout', `${ORIGIN}/logout`);
  t.false('reviews_session' in (jar('alice')[HOST] ?? {}), 'the session cookie is gone');
  const endSession = new URL(page.visited.find((u) => u.startsWith(`${issuer}/session/end`))!);
  t.truthy(endSession.searchParams.get('id_token_hint'));
  t.is(endSession.searchParams.get('post_logout_redirect_uri'), `${ORIGIN}/`);
  t.true(page.visited.includes(`${ORIGIN}/`), 'the provider sent the browser back to the service');
  t.regex(page.body, /name="login"/, "the provider's session ended too: it wants credentials, not a silent login");
  t.is(await logins('logout'), 1);
  const after = await browse('alice', 'go', `${ORIGIN}/reviews/1`);
  t.true(after.url.startsWith(`${issuer}/interaction/`), after.url);
});

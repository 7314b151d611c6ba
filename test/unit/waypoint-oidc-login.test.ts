/** OidcLogin: what the resource accepts, and the sealed cookies (pure logic; the flow itself is tested against a real provider in integration/). */
import test from 'ava';
import { normalize, parseDocuments } from '../../core/config/index.js';
import { logger } from '../../core/logging.js';
import { JwksCache } from '../../waypoint/authn/jwks-cache.js';
import { readCookie, setCookie, stripCookies } from '../../waypoint/oidc/cookies.js';
import { MAX_COOKIE_VALUE_BYTES, Sealer, SessionTooLarge } from '../../waypoint/oidc/session.js';
import { doc, problems } from './support/config-docs.js';

const OK = ['targetRefs: [{kind: Service, name: web}]', 'issuer: https://login.example.com', 'clientId: web', 'clientSecretFile: /etc/ambit/oidc/web.secret'];

test('OidcLogin applies as ambit.dev/v1alpha1 with every documented field', (t) => {
  const [r] = parseDocuments(
    doc('OidcLogin', 'web', [
      ...OK,
      'sessionKeyFile: /etc/ambit/oidc/web.key',
      'redirectPath: /oauth2/callback',
      'scopes: [openid, email, groups]',
      'cookie: {name: web_session, secure: true, sameSite: Strict, domain: example.com, maxAge: 8h}',
      'paths: [/app]',
      'exemptPaths: [/app/health]',
      'logout: {path: /logout, postLogoutRedirectUri: "https://example.com/bye"}',
      'timeout: 3s',
    ]),
    'test.yaml',
  );
  t.is(r!.apiVersion, 'ambit.dev/v1alpha1');
  const typed = normalize(r!);
  if (typed.kind !== 'OidcLogin') return t.fail(typed.kind);
  t.is(typed.spec.cookie?.maxAge, 8 * 3600_000);
  t.is(typed.spec.timeout, 3000);
});

test('OidcLogin refuses unknown fields and what would not work, each at its line', (t) => {
  const unknown = problems(doc('OidcLogin', 'web', [...OK, 'clientSecret: hunter2']));
  t.regex(unknown[0]!.message, /^test\.yaml:10: OidcLogin default\/web: spec\.clientSecret: field clientSecret is not supported/);
  const relative = problems(doc('OidcLogin', 'web', [...OK.slice(0, 3), 'clientSecretFile: web.secret']));
  t.regex(relative[0]!.message, /test\.yaml:9: .*clientSecretFile: "web.secret" must be an absolute path/);
  const issuer = problems(doc('OidcLogin', 'web', [OK[0]!, 'issuer: login.example.com', ...OK.slice(2)]));
  t.regex(issuer[0]!.message, /test\.yaml:7: .*issuer: "login.example.com" is not a URL/);
  const noTarget = problems(doc('OidcLogin', 'web', OK.slice(1)));
  t.regex(noTarget[0]!.message, /targetRefs is required/);
  const sameSite = problems(doc('OidcLogin', 'web', [...OK, 'cookie: {sameSite: None, secure: false}']));
  t.regex(sameSite[0]!.message, /sameSite None needs secure: true/);
  const path = problems(doc('OidcLogin', 'web', [...OK, 'exemptPaths: [health]']));
  t.regex(path[0]!.message, /exemptPaths\[0\]: "health" must start with "\/"/);
  const logout = problems(doc('OidcLogin', 'web', [...OK, 'logout: {path: /oauth2/callback}']));
  t.regex(logout[0]!.message, /logout\.path: the logout path cannot be the redirect path/);
  const cookieName = problems(doc('OidcLogin', 'web', [...OK, 'cookie: {name: "a b"}']));
  t.regex(cookieName[0]!.message, /cookie\.name: "a b" is not a cookie name/);
  const missing = problems(doc('OidcLogin', 'web', [OK[0]!, OK[1]!]));
  t.is(missing.length, 2, missing.map((m) => m.message).join('\n'));
});

const SESSION = { claims: { iss: 'https://i', sub: 'alice', groups: ['admins'] }, expiresAt: Math.floor(Date.now() / 1000) + 300, refreshToken: 'rt' };

test('a sealed session opens with its key only; altered, truncated or expired ones do not', async (t) => {
  const sealer = new Sealer(Buffer.from('secret-one'), 'https://i|web');
  const value = await sealer.sealSession(SESSION, 3600);
  const opened = await sealer.openSession(value);
  t.deepEqual(opened?.claims, SESSION.claims);
  t.is(opened?.refreshToken, 'rt');
  t.is(await new Sealer(Buffer.from('secret-two'), 'https://i|web').openSession(value), undefined, 'another secret');
  t.is(await new Sealer(Buffer.from('secret-one'), 'https://i|other').openSession(value), undefined, 'another client');
  const parts = value.split('.');
  const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
  t.is(await sealer.openSession([parts[0], parts[1], parts[2], flipped, parts[4]].join('.')), undefined, 'altered ciphertext');
  t.is(await sealer.openSession(value.slice(0, -2)), undefined, 'truncated');
  t.is(
    await sealer.openSession(await sealer.sealLogin({ state: 's', nonce: 'n', verifier: 'v', returnTo: '/' }, 60)),
    undefined,
    'a login cookie is no session',
  );
  const expired = await sealer.sealSession(SESSION, 1);
  await new Promise((r) => setTimeout(r, 2100));
  t.is(await sealer.openSession(expired), undefined, 'past its lifetime');
});

test('a session that would not fit a cookie drops the raw ID token first, and is refused when still too large', async (t) => {
  const sealer = new Sealer(Buffer.from('secret'), 'ctx');
  const withHint = await sealer.sealSession({ ...SESSION, idToken: 'x'.repeat(3000) }, 3600);
  t.true(withHint.length <= MAX_COOKIE_VALUE_BYTES);
  t.is((await sealer.openSession(withHint))?.idToken, undefined);
  await t.throwsAsync(sealer.sealSession({ ...SESSION, claims: { ...SESSION.claims, big: 'y'.repeat(4000) } }, 3600), { instanceOf: SessionTooLarge });
});

test('cookies: read among others, stripped from the request, written HttpOnly with the attributes', (t) => {
  const headers: Record<string, string | string[] | undefined> = { cookie: 'a=1; web_session=abc; web_session_login=x; b=2' };
  t.is(readCookie(headers, 'web_session'), 'abc');
  stripCookies(headers, ['web_session', 'web_session_login']);
  t.is(headers.cookie, 'a=1; b=2');
  stripCookies(headers, ['a', 'b']);
  t.false('cookie' in headers);
  t.is(
    setCookie('web_session', 'v', 60, { secure: true, sameSite: 'Strict', domain: 'example.com' }),
    'web_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure; Domain=example.com',
  );
});

test('the JwksCache gives a jwtRule and a login of the same issuer one key source, and drops what a snapshot no longer asks for', (t) => {
  const fetches = { inc: () => undefined };
  const cache = new JwksCache({ fetches }, logger('test').child({}, { level: 'silent' }));
  const rule = cache.source({ issuer: 'https://i' });
  const login = cache.source({ issuer: 'https://i' });
  t.is(rule, login);
  t.not(cache.source({ issuer: 'https://i', timeoutMs: 1000 }), rule, 'another timeout, another source');
  cache.sweep();
  t.is(cache.source({ issuer: 'https://i' }), rule, 'kept across a snapshot that still uses it');
  cache.sweep();
  cache.sweep();
  t.not(cache.source({ issuer: 'https://i' }), rule, 'dropped after a snapshot that did not');
});

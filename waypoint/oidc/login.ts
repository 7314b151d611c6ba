/**
 * One service's browser login (an OidcLogin compiled for one snapshot), run
 * after RequestAuthentication in the waypoint's admission (forward.ts):
 *
 * - the redirect path finishes a login: the state must match the sealed login
 *   cookie, the code is exchanged with the PKCE verifier and the client secret,
 *   the ID token verified (issuer's JWKS, aud, nonce), and the browser sent
 *   back where it started with a sealed session cookie;
 * - the logout path clears the session and, when the issuer has an
 *   end_session_endpoint, sends the browser there (RP-initiated logout);
 * - any other request with a session that opens passes with the ID token's
 *   principal (`iss/sub`) and claims, as a verified JWT would; a session near
 *   its end is refreshed with the refresh token first (one refresh at a time
 *   per token, however many requests come at once);
 * - without one, a path that needs login answers a browser (a GET or HEAD that
 *   accepts text/html) 302 to the issuer, anything else 401; other paths pass
 *   unauthenticated and AuthorizationPolicy decides.
 *
 * The session cookies are taken out of the request before it is forwarded.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { OidcLoginSpec } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import type { LocalReply } from '../replies.js';
import { attributesOf, readCookie, setCookie, stripCookies, type CookieAttributes } from './cookies.js';
import { GrantRefused, type Client, type OidcProvider, type Tokens } from './provider.js';
import { SessionTooLarge, type Sealer, type Session } from './session.js';

export interface LoginMetrics {
  /** outcome: started | ok | failed | refreshed | refresh_failed | logout | bad_cookie | required. */
  logins: { inc(labels: { service: string; outcome: string }): void };
}

export interface LoginRequest {
  method: string;
  /** Mutable: the session cookies are removed. */
  headers: Record<string, string | string[] | undefined>;
  host: string;
  /** The request target, query included. */
  path: string;
}

export type LoginOutcome =
  | { kind: 'pass'; principal: string | undefined; claims: JWTPayload | undefined; setCookies: string[] }
  | { kind: 'reply'; reply: LocalReply; setCookies: string[] };

/** What the compiled resource needs besides its spec: the client secret and the key it seals with, or why it has none. */
export type LoginKeys = { kind: 'ready'; client: Client; sealer: Sealer } | { kind: 'broken'; problem: string };

const DEFAULT_COOKIE = 'ambit_session';
const DEFAULT_MAX_AGE_S = 24 * 3600;
const LOGIN_STATE_S = 10 * 60;
/** A session is refreshed this long before its tokens run out. */
const REFRESH_BEFORE_S = 60;
/** Without expires_in or an ID token exp, a session is taken to last this long before a refresh. */
const DEFAULT_TOKEN_S = 300;

const b64url = (b: Buffer): string => b.toString('base64url');
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const underPrefix = (path: string, prefix: string): boolean =>
  prefix === '/' || path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);

const reply = (status: number, body: string, headers?: Record<string, string>): LocalReply => ({ status, body, flag: '-', ...(headers ? { headers } : {}) });

export class OidcLoginGate {
  readonly #service: string;
  readonly #spec: OidcLoginSpec;
  readonly #provider: OidcProvider;
  readonly #keys: LoginKeys;
  readonly #metrics: LoginMetrics;
  readonly #log: Logger;
  readonly #cookie: string;
  readonly #loginCookie: string;
  readonly #attrs: CookieAttributes;
  readonly #maxAgeS: number;
  readonly #redirectPath: string;
  readonly #refreshing: Map<string, Promise<Session | undefined>>;

  constructor(o: {
    service: string;
    spec: OidcLoginSpec;
    provider: OidcProvider;
    keys: LoginKeys;
    metrics: LoginMetrics;
    log: Logger;
    refreshing: Map<string, Promise<Session | undefined>>;
  }) {
    this.#service = o.service;
    this.#spec = o.spec;
    this.#provider = o.provider;
    this.#keys = o.keys;
    this.#metrics = o.metrics;
    this.#log = o.log;
    this.#cookie = o.spec.cookie?.name ?? DEFAULT_COOKIE;
    this.#loginCookie = `${this.#cookie}_login`;
    this.#attrs = attributesOf(o.spec.cookie);
    this.#maxAgeS = Math.floor((o.spec.cookie?.maxAge ?? DEFAULT_MAX_AGE_S * 1000) / 1000);
    this.#redirectPath = o.spec.redirectPath ?? '/oauth2/callback';
    this.#refreshing = o.refreshing;
  }

  async handle(req: LoginRequest): Promise<LoginOutcome> {
    const q = req.path.indexOf('?');
    const pathname = q < 0 ? req.path : req.path.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : req.path.slice(q + 1));
    const sessionValue = readCookie(req.headers, this.#cookie);
    const loginValue = readCookie(req.headers, this.#loginCookie);
    stripCookies(req.headers, [this.#cookie, this.#loginCookie]);
    const needsLogin = this.#needsLogin(pathname);
    if (this.#keys.kind === 'broken') {
      if (!needsLogin && pathname !== this.#redirectPath) return { kind: 'pass', principal: undefined, claims: undefined, setCookies: [] };
      return { kind: 'reply', reply: reply(503, `OIDC login is not configured correctly: ${this.#keys.problem}`), setCookies: [] };
    }
    const { client, sealer } = this.#keys;
    if (pathname === this.#redirectPath) return this.#callback(req, query, loginValue, client, sealer);
    const session = await this.#session(sessionValue, client, sealer);
    if (this.#spec.logout && pathname === this.#spec.logout.path) return this.#logout(req, session.current);
    if (session.current) {
      const { claims } = session.current;
      return { kind: 'pass', principal: `${String(claims.iss)}/${String(claims.sub)}`, claims, setCookies: session.setCookies };
    }
    if (!needsLogin) return { kind: 'pass', principal: undefined, claims: undefined, setCookies: session.setCookies };
    this.#metrics.logins.inc({ service: this.#service, outcome: 'required' });
    const accept = first(req.headers.accept) ?? '';
    if ((req.method === 'GET' || req.method === 'HEAD') && /\btext\/html\b/.test(accept)) return this.#startLogin(req, sealer, session.setCookies);
    return {
      kind: 'reply',
      reply: reply(401, 'OIDC login required', { 'www-authenticate': `Bearer realm="${this.#origin(req)}", error="invalid_token"` }),
      setCookies: session.setCookies,
    };
  }

  #needsLogin(pathname: string): boolean {
    if ((this.#spec.exemptPaths ?? []).some((p) => underPrefix(pathname, p))) return false;
    return (this.#spec.paths ?? ['/']).some((p) => underPrefix(pathname, p));
  }

  /** http(s)://host as the browser sees the service: X-Forwarded-Proto when a gateway set it, else https exactly when the cookie is Secure. */
  #origin(req: LoginRequest): string {
    const forwarded = first(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim();
    const scheme = forwarded === 'http' || forwarded === 'https' ? forwarded : this.#attrs.secure ? 'https' : 'http';
    return `${scheme}://${req.host}`;
  }

  #absolute(req: LoginRequest, where: string): string {
    return where.startsWith('/') ? `${this.#origin(req)}${where}` : where;
  }

  #fail(why: string, status: number, setCookies: string[]): LoginOutcome {
    this.#metrics.logins.inc({ service: this.#service, outcome: 'failed' });
    this.#log.warn({ service: this.#service, issuer: this.#spec.issuer, reason: why }, 'OIDC login failed');
    return { kind: 'reply', reply: reply(status, `OIDC login failed: ${why}`), setCookies };
  }

  async #startLogin(req: LoginRequest, sealer: Sealer, setCookies: string[]): Promise<LoginOutcome> {
    let authorize: string;
    try {
      authorize = (await this.#provider.metadata()).authorizationEndpoint!;
    } catch (err) {
      return this.#fail((err as Error).message, 503, setCookies);
    }
    const state = b64url(randomBytes(24));
    const nonce = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    const returnTo = req.path.startsWith('/') && !req.path.startsWith('//') ? req.path : '/';
    const sealed = await sealer.sealLogin({ state, nonce, verifier, returnTo }, LOGIN_STATE_S);
    const scopes = new Set(['openid', ...(this.#spec.scopes ?? ['profile', 'email'])]);
    const url = new URL(authorize);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.#spec.clientId);
    url.searchParams.set('redirect_uri', this.#absolute(req, this.#redirectPath));
    url.searchParams.set('scope', [...scopes].join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', b64url(createHash('sha256').update(verifier).digest()));
    url.searchParams.set('code_challenge_method', 'S256');
    this.#metrics.logins.inc({ service: this.#service, outcome: 'started' });
    // Lax whatever the session's SameSite: the issuer's redirect back is a cross-site navigation.
    return {
      kind: 'reply',
      reply: reply(302, '', { location: url.toString() }),
      setCookies: [...setCookies, setCookie(this.#loginCookie, sealed, LOGIN_STATE_S, this.#attrs, 'Lax')],
    };
  }

  async #callback(req: LoginRequest, query: URLSearchParams, loginValue: string | undefined, client: Client, sealer: Sealer): Promise<LoginOutcome> {
    const clear = [setCookie(this.#loginCookie, '', 0, this.#attrs, 'Lax')];
    const error = query.get('error');
    if (error) return this.#fail(`the issuer answered ${error}${query.get('error_description') ? `: ${query.get('error_description')}` : ''}`, 403, clear);
    const login = await sealer.openLogin(loginValue);
    const state = query.get('state');
    if (!login || state === null || state !== login.state)
      return this.#fail('the state does not match a login this browser started (expired, or from another tab): open the page again', 400, clear);
    const code = query.get('code');
    if (!code) return this.#fail('the redirect carries no code', 400, clear);
    try {
      const tokens = await this.#provider.exchangeCode(client, code, this.#absolute(req, this.#redirectPath), login.verifier);
      const session = await this.#sessionOf(tokens, client, login.nonce, undefined);
      const sealed = await sealer.sealSession(session, this.#maxAgeS);
      this.#metrics.logins.inc({ service: this.#service, outcome: 'ok' });
      this.#log.info({ service: this.#service, issuer: this.#spec.issuer, sub: session.claims.sub }, 'OIDC login');
      return {
        kind: 'reply',
        reply: reply(302, '', { location: login.returnTo }),
        setCookies: [...clear, setCookie(this.#cookie, sealed, this.#maxAgeS, this.#attrs)],
      };
    } catch (err) {
      const status = err instanceof GrantRefused ? 401 : err instanceof SessionTooLarge ? 500 : 503;
      return this.#fail((err as Error).message, status, clear);
    }
  }

  /** A session from a token response; `previous`: the session being refreshed, whose claims stand when no new ID token comes. */
  async #sessionOf(tokens: Tokens, client: Client, nonce: string | undefined, previous: Session | undefined): Promise<Session> {
    if (!tokens.idToken && !previous) throw new GrantRefused('the token response has no id_token (is "openid" among the client\'s scopes?)');
    const claims = tokens.idToken ? await this.#provider.verifyIdToken(tokens.idToken, client.id, nonce) : previous!.claims;
    if (previous && (claims.sub !== previous.claims.sub || claims.iss !== previous.claims.iss))
      throw new GrantRefused('the refreshed ID token names another user');
    const now = Math.floor(Date.now() / 1000);
    const ends = [tokens.expiresIn !== undefined ? now + tokens.expiresIn : undefined, tokens.idToken ? claims.exp : undefined].filter(
      (x): x is number => typeof x === 'number',
    );
    const refreshToken = tokens.refreshToken ?? previous?.refreshToken;
    const idToken = tokens.idToken ?? previous?.idToken;
    return {
      claims,
      expiresAt: ends.length > 0 ? Math.min(...ends) : now + DEFAULT_TOKEN_S,
      ...(refreshToken ? { refreshToken } : {}),
      ...(idToken ? { idToken } : {}),
    };
  }

  /** The browser's session after refreshing it if due; `setCookies` carries a renewed or cleared cookie. */
  async #session(value: string | undefined, client: Client, sealer: Sealer): Promise<{ current: Session | undefined; setCookies: string[] }> {
    if (value === undefined) return { current: undefined, setCookies: [] };
    const opened = await sealer.openSession(value);
    const clear = [setCookie(this.#cookie, '', 0, this.#attrs)];
    if (!opened) {
      this.#metrics.logins.inc({ service: this.#service, outcome: 'bad_cookie' });
      this.#log.debug({ service: this.#service }, 'OIDC session cookie refused (altered, expired or sealed with another key)');
      return { current: undefined, setCookies: clear };
    }
    const now = Math.floor(Date.now() / 1000);
    if (opened.expiresAt - now > REFRESH_BEFORE_S) return { current: opened, setCookies: [] };
    if (!opened.refreshToken) return opened.expiresAt > now ? { current: opened, setCookies: [] } : { current: undefined, setCookies: clear };
    const refreshed = await this.#refresh(opened, client);
    if (!refreshed) return opened.expiresAt > now ? { current: opened, setCookies: [] } : { current: undefined, setCookies: clear };
    // The refreshed session keeps the original's end: a refresh does not stretch a session past cookie.maxAge.
    const sealed = await sealer.sealSession(refreshed, opened.lifetimeEnds - now).catch(() => undefined);
    return { current: refreshed, setCookies: sealed ? [setCookie(this.#cookie, sealed, opened.lifetimeEnds - now, this.#attrs)] : [] };
  }

  #refresh(session: Session, client: Client): Promise<Session | undefined> {
    const token = session.refreshToken!;
    let p = this.#refreshing.get(token);
    if (!p) {
      p = this.#provider
        .refresh(client, token)
        .then((tokens) => this.#sessionOf(tokens, client, undefined, session))
        .then(
          (s) => {
            this.#metrics.logins.inc({ service: this.#service, outcome: 'refreshed' });
            return s;
          },
          (err: Error) => {
            this.#metrics.logins.inc({ service: this.#service, outcome: 'refresh_failed' });
            this.#log.warn({ service: this.#service, issuer: this.#spec.issuer, reason: err.message }, 'OIDC session refresh failed');
            return undefined;
          },
        )
        .finally(() => setTimeout(() => this.#refreshing.delete(token), 5_000).unref());
      this.#refreshing.set(token, p);
    }
    return p;
  }

  async #logout(req: LoginRequest, session: Session | undefined): Promise<LoginOutcome> {
    const clear = [setCookie(this.#cookie, '', 0, this.#attrs), setCookie(this.#loginCookie, '', 0, this.#attrs, 'Lax')];
    const after = this.#absolute(req, this.#spec.logout?.postLogoutRedirectUri ?? '/');
    this.#metrics.logins.inc({ service: this.#service, outcome: 'logout' });
    let endSession: string | undefined;
    try {
      endSession = (await this.#provider.metadata()).endSessionEndpoint;
    } catch (err) {
      this.#log.warn({ service: this.#service, reason: (err as Error).message }, 'OIDC logout: the issuer is unreachable, so only the local session ends');
    }
    if (!endSession) return { kind: 'reply', reply: reply(302, '', { location: after }), setCookies: clear };
    const url = new URL(endSession);
    if (session?.idToken) url.searchParams.set('id_token_hint', session.idToken);
    url.searchParams.set('client_id', this.#spec.clientId);
    url.searchParams.set('post_logout_redirect_uri', after);
    return { kind: 'reply', reply: reply(302, '', { location: url.toString() }), setCookies: clear };
  }
}

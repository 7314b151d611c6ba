/**
 * One OpenID provider as a relying party sees it: its endpoints from discovery
 * (authn/discovery.ts, the code RequestAuthentication's jwksUri discovery uses),
 * its keys in a JwksSource (authn/jwks.ts: fetched, cached, refreshed on an
 * unknown kid, last good keys kept), the token endpoint's two grants
 * (authorization_code with the PKCE verifier, refresh_token) authenticated with
 * the client secret, and the ID token check of OpenID Connect Core §3.1.3.7.
 * Discovery is retried after a failure at most once per cooldown and refreshed
 * periodically, so an issuer that was down at start is picked up without a restart.
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../../core/logging.js';
import { discover, MAX_DOCUMENT_BYTES, type ProviderMetadata } from '../authn/discovery.js';
import type { JwksSource } from '../authn/jwks.js';
import { ALGORITHMS, CLOCK_SKEW_S } from '../authn/request-authn.js';

const REFRESH_MS = 20 * 60_000;
const COOLDOWN_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 5_000;

/** The issuer could not be reached or answered something unusable; the message says which URL and why. */
export class ProviderUnavailable extends Error {
  readonly code = 'EOIDC_PROVIDER_UNAVAILABLE';
}

/** The token endpoint refused a grant (RFC 6749 §5.2 error), or returned no usable ID token. */
export class GrantRefused extends Error {
  readonly code = 'EOIDC_GRANT_REFUSED';
}

export interface Client {
  id: string;
  secret: string;
}

export interface Tokens {
  idToken: string | undefined;
  refreshToken: string | undefined;
  /** Seconds the access token lasts, when the issuer said. */
  expiresIn: number | undefined;
}

export class OidcProvider {
  readonly issuer: string;
  readonly jwks: JwksSource;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  #meta: ProviderMetadata | undefined;
  #fetchedAt = 0;
  #attemptedAt = -Infinity;
  #lastError = 'not fetched yet';
  #inflight: Promise<void> | undefined;

  /** `jwks`: the issuer's keys, from the waypoint's JwksCache (shared with RequestAuthentication rules of the same issuer). */
  constructor(o: { issuer: string; timeoutMs?: number; jwks: JwksSource; log: Logger }) {
    this.issuer = o.issuer;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#log = o.log;
    this.jwks = o.jwks;
  }

  /** The issuer's endpoints; the last good ones when a refresh fails. */
  async metadata(): Promise<ProviderMetadata> {
    if (!this.#meta || Date.now() - this.#fetchedAt > REFRESH_MS) {
      if (!this.#inflight && Date.now() - this.#attemptedAt >= (this.#meta ? COOLDOWN_MS : Math.min(COOLDOWN_MS, 1000))) {
        this.#attemptedAt = Date.now();
        this.#inflight = this.#discover().finally(() => (this.#inflight = undefined));
      }
      await this.#inflight;
    }
    if (!this.#meta) throw new ProviderUnavailable(`the OpenID configuration of ${this.issuer} could not be had: ${this.#lastError}`);
    return this.#meta;
  }

  async #discover(): Promise<void> {
    try {
      const meta = await discover(this.issuer, this.#timeoutMs);
      if (!meta.authorizationEndpoint || !meta.tokenEndpoint) throw new Error('it names no authorization_endpoint or token_endpoint');
      if (meta.codeChallengeMethods.length > 0 && !meta.codeChallengeMethods.includes('S256')) throw new Error('it does not support PKCE with S256');
      this.#meta = meta;
      this.#fetchedAt = Date.now();
    } catch (err) {
      this.#lastError = (err as Error).message;
      this.#log.warn({ issuer: this.issuer, err: this.#lastError, keeping: this.#meta !== undefined }, 'OpenID discovery failed');
    }
  }

  exchangeCode(client: Client, code: string, redirectUri: string, verifier: string): Promise<Tokens> {
    return this.#grant(client, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
  }

  refresh(client: Client, refreshToken: string): Promise<Tokens> {
    return this.#grant(client, { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async #grant(client: Client, params: Record<string, string>): Promise<Tokens> {
    const meta = await this.metadata();
    const form = new URLSearchParams(params);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const methods = meta.tokenEndpointAuthMethods;
    // RFC 6749 §2.3.1: basic is what every server must take; post only for a server that lists post and not basic.
    if (methods.length === 0 || methods.includes('client_secret_basic') || !methods.includes('client_secret_post')) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
    } else {
      form.set('client_id', client.id);
      form.set('client_secret', client.secret);
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(meta.tokenEndpoint!, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(this.#timeoutMs), redirect: 'error' });
      text = await res.text();
    } catch (err) {
      throw new ProviderUnavailable(`the token endpoint ${meta.tokenEndpoint} of ${this.issuer} did not answer: ${(err as Error).message}`);
    }
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES)
      throw new ProviderUnavailable(`the token endpoint ${meta.tokenEndpoint} answered more than ${MAX_DOCUMENT_BYTES} bytes`);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ProviderUnavailable(`the token endpoint ${meta.tokenEndpoint} answered HTTP ${res.status} with no JSON`);
    }
    if (!res.ok) {
      const why = [body.error, body.error_description].filter((x) => typeof x === 'string').join(': ');
      throw new GrantRefused(`${params.grant_type} refused by ${this.issuer} (HTTP ${res.status}${why ? `, ${why}` : ''})`);
    }
    return {
      idToken: typeof body.id_token === 'string' ? body.id_token : undefined,
      refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
      expiresIn: typeof body.expires_in === 'number' ? body.expires_in : undefined,
    };
  }

  /** OpenID Connect Core §3.1.3.7: signature by the issuer's keys, iss, aud (and azp when there are several), exp, and the nonce when one was sent. */
  async verifyIdToken(idToken: string, clientId: string, nonce: string | undefined): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(idToken, this.jwks.getKey, {
        issuer: this.issuer,
        audience: clientId,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_SKEW_S,
      });
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== clientId) throw new GrantRefused(`the ID token's azp is not ${clientId}`);
      if (nonce !== undefined && payload.nonce !== nonce) throw new GrantRefused('the ID token does not carry the nonce this login sent');
      if (typeof payload.sub !== 'string') throw new GrantRefused('the ID token has no sub');
      return payload;
    } catch (err) {
      if (err instanceof GrantRefused) throw err;
      const why = err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : (err as Error).message;
      throw new GrantRefused(`the ID token from ${this.issuer} does not verify (${why})`);
    }
  }
}

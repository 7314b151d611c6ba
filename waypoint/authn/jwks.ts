/**
 * Where a jwtRule's verification keys come from: an inline JWKS, a jwksUri, or
 * neither (then OpenID discovery: the issuer's /.well-known/openid-configuration
 * names the jwks_uri, as istiod resolves it). Remote keys are fetched when first
 * needed, refreshed periodically and when a token names a `kid` we do not hold
 * (at most once per cooldown, so a flood of made-up kids cannot turn into a
 * flood of fetches), and the last good keys are kept when a fetch fails: an
 * identity provider that is down does not log everybody out. Each fetch's
 * outcome is counted and a failure logged with the URL and the reason.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../../core/logging.js';
import { discover, discoveryUrl, fetchText } from './discovery.js';

export interface JwksMetrics {
  fetches: { inc(labels: { issuer: string; result: string }): void };
}

export interface JwksOptions {
  issuer: string;
  /** An inline JWKS document (RequestAuthentication `jwks`). */
  jwks?: string;
  jwksUri?: string;
  /** Per fetch (RequestAuthentication `timeout`). */
  timeoutMs?: number;
  refreshMs?: number;
  cooldownMs?: number;
  log: Logger;
  metrics: JwksMetrics;
}

/** istiod refreshes remote keys every 20 minutes; the same here. */
const DEFAULT_REFRESH_MS = 20 * 60_000;
const DEFAULT_COOLDOWN_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 5_000;
/** Why no key could be had; request-authn.ts maps it to Envoy's "Jwks remote fetch is failed". */
export class JwksUnavailable extends Error {
  readonly code = 'EJWKS_UNAVAILABLE';
}

function parseJwks(text: string, where: string): JSONWebKeySet {
  const doc = JSON.parse(text) as unknown;
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${where} is not a JWKS document (a JSON object with a "keys" list)`);
  return doc as JSONWebKeySet;
}

export class JwksSource {
  readonly #o: JwksOptions;
  #keys: JWTVerifyGetKey | undefined;
  #kids = new Set<string | undefined>();
  #fetchedAt = 0;
  #attemptedAt = -Infinity;
  #inflight: Promise<void> | undefined;
  #lastError: string | undefined;
  #generation = 0;
  #text = '';

  constructor(o: JwksOptions) {
    this.#o = o;
    if (o.jwks !== undefined) this.#adopt(parseJwks(o.jwks, `the inline jwks of issuer ${o.issuer}`));
  }

  /** Bumped whenever the key set changes, so results verified against older keys can be told apart. */
  get generation(): number {
    return this.#generation;
  }

  get remote(): boolean {
    return this.#o.jwks === undefined;
  }

  /** For jose's jwtVerify: the key a token's header names, fetching or refreshing remote keys as needed. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.remote) {
      const stale = Date.now() - this.#fetchedAt > (this.#o.refreshMs ?? DEFAULT_REFRESH_MS);
      const unknownKid = this.#keys !== undefined && !this.#kids.has(header.kid);
      if (this.#keys === undefined || stale || unknownKid) await this.#refresh(this.#keys === undefined);
    }
    if (!this.#keys) throw new JwksUnavailable(`no keys for issuer ${this.#o.issuer}: ${this.#lastError ?? 'not fetched yet'}`);
    return this.#keys(header, token);
  };

  /** `first`: nothing held yet, so a failed fetch may be retried without waiting for the cooldown's end. */
  async #refresh(first: boolean): Promise<void> {
    if (this.#inflight) return this.#inflight;
    const cooldown = this.#o.cooldownMs ?? DEFAULT_COOLDOWN_MS;
    if (Date.now() - this.#attemptedAt < (first ? Math.min(cooldown, 1000) : cooldown)) return;
    this.#attemptedAt = Date.now();
    this.#inflight = this.#fetch().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    const timeoutMs = this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { issuer, log, metrics } = this.#o;
    let url = this.#o.jwksUri;
    try {
      if (url === undefined) url = (await discover(issuer, timeoutMs)).jwksUri;
      this.#adopt(parseJwks(await fetchText(url, timeoutMs), url));
      this.#lastError = undefined;
      metrics.fetches.inc({ issuer, result: 'ok' });
    } catch (err) {
      this.#lastError = `${url ?? discoveryUrl(issuer)}: ${(err as Error).message}`;
      metrics.fetches.inc({ issuer, result: 'error' });
      log.warn(
        { issuer, url, err: (err as Error).message, keeping: this.#keys !== undefined },
        this.#keys ? 'JWKS fetch failed; keeping the last good keys' : 'JWKS fetch failed; tokens of this issuer are refused until it succeeds',
      );
    }
  }

  #adopt(set: JSONWebKeySet): void {
    const text = JSON.stringify(set);
    if (text !== this.#text) this.#generation++;
    this.#text = text;
    this.#keys = createLocalJWKSet(set);
    this.#kids = new Set(set.keys.map((k) => k.kid));
    this.#fetchedAt = Date.now();
  }
}

/**
 * RequestAuthentication at the waypoint, with Istio's semantics (Envoy's
 * jwt_authn as istiod configures it: each jwtRule a provider, "any of them, or
 * no token at all"):
 *
 * - no token in any rule's locations: the request passes unauthenticated, and
 *   AuthorizationPolicy decides whether that is enough;
 * - a token that verifies against the rule of its issuer (signature, exp and
 *   nbf with Envoy's 60 s of clock skew, audiences): it passes, with request
 *   principal `iss/sub` and the claims for AuthorizationPolicy; the header that
 *   carried it is removed unless forwardOriginalToken, and the outputs are set;
 * - any other token: 401 with Envoy's body for the reason and a
 *   `www-authenticate: Bearer realm=..., error="invalid_token"` header.
 *
 * Headers the rules write (outputPayloadToHeader, outputClaimToHeaders) are
 * removed from every incoming request first, so a client cannot forge them.
 * A token verified once is remembered (verified-cache.ts) while it stays valid.
 */
import { decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { JWTRule } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import type { LocalReply } from '../replies.js';
import { JwksSource, JwksUnavailable } from './jwks.js';
import { tokenAt, type TokenSource } from './token-location.js';
import { VerifiedCache } from './verified-cache.js';

export interface AuthnMetrics {
  /** outcome: ok | missing | denied; reason: Envoy's message for denied ones. */
  outcomes: { inc(labels: { outcome: string; reason: string }): void };
}

export type AuthnResult =
  { kind: 'pass'; principal: string | undefined; claims: JWTPayload | undefined } | { kind: 'reply'; reply: LocalReply; reason: string };

export interface CompiledRule {
  rule: JWTRule;
  sources: TokenSource[];
  jwks: JwksSource;
}

/** Envoy's `clock_skew_seconds` default. */
export const CLOCK_SKEW_S = 60;
/** Distinct verified tokens remembered per served service (a few hundred bytes each). */
const CACHE_ENTRIES = 1000;
/** Tokens are a few hundred bytes to a few KiB; a larger one is refused before it is parsed. */
export const MAX_TOKEN_BYTES = 8 * 1024;
/** The asymmetric algorithms Envoy's jwt_authn verifies; `none` and HMAC never. */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export const REASONS = {
  badFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  unknownIssuer: 'Jwt issuer is not configured',
  expired: 'Jwt is expired',
  notYetValid: 'Jwt not yet valid',
  audience: 'Audiences in Jwt are not allowed',
  verification: 'Jwt verification fails',
  noKey: "Jwks doesn't have key to match kid or alg from Jwt",
  jwksFetch: 'Jwks remote fetch is failed',
  tooLarge: 'Jwt is too large',
} as const;

type Headers = Record<string, string | string[] | undefined>;

export interface AuthnRequest {
  /** Mutable: the token header is removed and outputs are set here. */
  headers: Headers;
  host: string;
  /** The request target, query included. */
  path: string;
}

function reasonOf(err: unknown): string {
  if (err instanceof JwksUnavailable) return REASONS.jwksFetch;
  if (err instanceof errors.JWTExpired) return REASONS.expired;
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return REASONS.notYetValid;
    if (err.claim === 'aud') return REASONS.audience;
    if (err.claim === 'iss') return REASONS.unknownIssuer;
    return REASONS.verification;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return REASONS.noKey;
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return REASONS.badFormat;
  return REASONS.verification;
}

function claimAt(payload: JWTPayload, path: string): string | undefined {
  let v: unknown = payload;
  for (const part of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) return v.join(',');
  return undefined;
}

function unauthorized(req: AuthnRequest, reason: string): AuthnResult {
  const realm = `http://${req.host}${req.path.split('?')[0] ?? ''}`;
  return {
    kind: 'reply',
    reason,
    reply: { status: 401, body: reason, flag: '-', headers: { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` } },
  };
}

export class RequestAuthenticator {
  readonly #rules: readonly CompiledRule[];
  readonly #outputHeaders: readonly string[];
  readonly #metrics: AuthnMetrics;
  readonly #log: Logger;
  readonly #verified = new VerifiedCache<CompiledRule>(CACHE_ENTRIES, CLOCK_SKEW_S);

  constructor(rules: readonly CompiledRule[], metrics: AuthnMetrics, log: Logger) {
    this.#rules = rules;
    this.#metrics = metrics;
    this.#log = log;
    this.#outputHeaders = [
      ...new Set(
        rules.flatMap((r) => [
          ...(r.rule.outputPayloadToHeader ? [r.rule.outputPayloadToHeader.toLowerCase()] : []),
          ...(r.rule.outputClaimToHeaders ?? []).map((c) => c.header.toLowerCase()),
        ]),
      ),
    ];
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  async authenticate(req: AuthnRequest): Promise<AuthnResult> {
    for (const h of this.#outputHeaders) delete req.headers[h];
    const q = req.path.indexOf('?');
    const query = q < 0 ? undefined : new URLSearchParams(req.path.slice(q + 1));
    const found: { token: string; source: TokenSource }[] = [];
    for (const r of this.#rules) {
      for (const source of r.sources) {
        const token = tokenAt(source, req.headers, query);
        if (token !== undefined && !found.some((f) => f.token === token && f.source.kind === source.kind && f.source.name === source.name)) {
          found.push({ token, source });
        }
      }
    }
    if (found.length === 0) {
      this.#metrics.outcomes.inc({ outcome: 'missing', reason: '' });
      return { kind: 'pass', principal: undefined, claims: undefined };
    }
    let reason: string = REASONS.unknownIssuer;
    for (const f of found) {
      const result = await this.#verify(f.token, f.source);
      if (typeof result === 'string') {
        reason = result;
        continue;
      }
      this.#apply(req, result.rule, f, result.payload);
      this.#metrics.outcomes.inc({ outcome: 'ok', reason: '' });
      return { kind: 'pass', principal: `${String(result.payload.iss)}/${String(result.payload.sub)}`, claims: result.payload };
    }
    this.#metrics.outcomes.inc({ outcome: 'denied', reason });
    return unauthorized(req, reason);
  }

  /** The verified payload and the rule that accepted it, or Envoy's reason for refusing the token. */
  async #verify(token: string, source: TokenSource): Promise<{ rule: JWTRule; payload: JWTPayload } | string> {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return REASONS.tooLarge;
    const readsHere = (r: CompiledRule) => r.sources.some((s) => s.kind === source.kind && s.name === source.name);
    const cached = this.#verified.get(token);
    if (cached && readsHere(cached.rule)) return { rule: cached.rule.rule, payload: cached.payload };
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return REASONS.badFormat;
    }
    const rules = this.#rules.filter((r) => r.rule.issuer === issuer && readsHere(r));
    if (rules.length === 0) return REASONS.unknownIssuer;
    let reason: string = REASONS.verification;
    for (const r of rules) {
      try {
        const { payload } = await jwtVerify(token, r.jwks.getKey, {
          issuer: r.rule.issuer,
          ...(r.rule.audiences?.length ? { audience: r.rule.audiences } : {}),
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_SKEW_S,
        });
        // Read after the check: a fetch it caused may have changed the keys it verified against.
        this.#verified.set(token, { rule: r, payload, generation: r.jwks.generation, currentGeneration: () => r.jwks.generation });
        return { rule: r.rule, payload };
      } catch (err) {
        reason = reasonOf(err);
        this.#log.debug({ issuer: r.rule.issuer, reason, err: (err as Error).message }, 'JWT refused');
      }
    }
    return reason;
  }

  #apply(req: AuthnRequest, rule: JWTRule, f: { token: string; source: TokenSource }, payload: JWTPayload): void {
    if (!rule.forwardOriginalToken && f.source.kind === 'header') delete req.headers[f.source.name];
    if (rule.outputPayloadToHeader) req.headers[rule.outputPayloadToHeader.toLowerCase()] = f.token.split('.')[1] ?? '';
    for (const c of rule.outputClaimToHeaders ?? []) {
      const value = claimAt(payload, c.claim);
      if (value !== undefined) req.headers[c.header.toLowerCase()] = value;
    }
  }
}

/**
 * The RequestAuthentication of each served service, compiled once per mesh
 * snapshot. As in Istio ambient, a waypoint enforces the resources that name
 * its service in targetRef(s) (a selector-only resource is for sidecars, which
 * ambit has none of). Key sources outlive snapshots: a jwtRule that did not
 * change keeps its fetched keys, so a config reload does not refetch every JWKS.
 */
import { targetsService } from '../../core/authz/index.js';
import type { JWTRule, TypedResource } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import { stableJson } from '../../core/store/codec.js';
import { JwksSource, type JwksMetrics } from './jwks.js';
import { RequestAuthenticator, type AuthnMetrics, type CompiledRule } from './request-authn.js';
import { sourcesOf } from './token-location.js';

type RequestAuthentication = TypedResource<'RequestAuthentication'>;

export interface ServedService {
  namespace: string;
  name: string;
}

export class Authenticators {
  readonly #metrics: AuthnMetrics & JwksMetrics;
  readonly #log: Logger;
  #sources = new Map<string, JwksSource>();

  constructor(metrics: AuthnMetrics & JwksMetrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
  }

  /**
   * One authenticator per served service for a new snapshot; key sources no
   * rule uses any more are dropped. Warnings name resources that bind nothing.
   */
  compile(resources: readonly RequestAuthentication[], services: readonly ServedService[]): Map<string, RequestAuthenticator> {
    const used = new Map<string, JwksSource>();
    const out = new Map<string, RequestAuthenticator>();
    for (const svc of services) {
      const rules: CompiledRule[] = [];
      for (const ra of resources) {
        if (!targetsService(ra, svc, (w) => this.#log.warn({ resource: `RequestAuthentication ${ra.metadata.namespace}/${ra.metadata.name}` }, w))) continue;
        for (const rule of ra.spec.jwtRules ?? []) rules.push({ rule, sources: sourcesOf(rule), jwks: this.#source(rule, used) });
      }
      out.set(`${svc.namespace}/${svc.name}`, new RequestAuthenticator(rules, this.#metrics, this.#log));
    }
    this.#sources = used;
    return out;
  }

  #source(rule: JWTRule, used: Map<string, JwksSource>): JwksSource {
    const key = stableJson({ issuer: rule.issuer, jwks: rule.jwks, jwksUri: rule.jwksUri, timeout: rule.timeout });
    let source = used.get(key) ?? this.#sources.get(key);
    if (!source) {
      source = new JwksSource({
        issuer: rule.issuer,
        ...(rule.jwks !== undefined ? { jwks: rule.jwks } : {}),
        ...(rule.jwksUri !== undefined ? { jwksUri: rule.jwksUri } : {}),
        ...(rule.timeout !== undefined ? { timeoutMs: rule.timeout } : {}),
        log: this.#log,
        metrics: this.#metrics,
      });
    }
    used.set(key, source);
    return source;
  }
}

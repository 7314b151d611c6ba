/**
 * The waypoint's key sources, shared by everything that verifies tokens of an
 * issuer: RequestAuthentication's jwtRules (authenticators.ts) and OidcLogin's
 * ID tokens (waypoint/oidc/). A rule and a login that name the same issuer the
 * same way (no inline jwks, no jwksUri: discovery; same timeout) use one
 * JwksSource, so its keys are fetched once. Sources outlive snapshots: each
 * compile asks for what it uses, and `sweep` after the compile drops the rest.
 */
import type { Logger } from '../../core/logging.js';
import { stableJson } from '../../core/store/codec.js';
import { JwksSource, type JwksMetrics } from './jwks.js';

export interface KeySourceSpec {
  issuer: string;
  jwks?: string;
  jwksUri?: string;
  timeoutMs?: number;
}

export class JwksCache {
  readonly #metrics: JwksMetrics;
  readonly #log: Logger;
  #held = new Map<string, JwksSource>();
  #next = new Map<string, JwksSource>();

  constructor(metrics: JwksMetrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
  }

  source(spec: KeySourceSpec): JwksSource {
    const key = stableJson({ issuer: spec.issuer, jwks: spec.jwks, jwksUri: spec.jwksUri, timeout: spec.timeoutMs });
    const source = this.#next.get(key) ?? this.#held.get(key) ?? new JwksSource({ ...spec, log: this.#log, metrics: this.#metrics });
    this.#next.set(key, source);
    return source;
  }

  /** After a snapshot's compile: sources it did not ask for are dropped. */
  sweep(): void {
    this.#held = this.#next;
    this.#next = new Map();
  }
}

/**
 * Tokens already verified, so a client that sends the same token on every
 * request pays the signature check once (Envoy's jwt_authn keeps such a cache
 * too): bounded, least recently used first out, and an entry counts only while
 * the token's exp/nbf still hold and the key set it was verified against has not
 * changed (a rotated-out key stops verifying at once).
 */
import type { JWTPayload } from 'jose';

export interface VerifiedToken<R> {
  rule: R;
  payload: JWTPayload;
  /** JwksSource.generation when it was verified. */
  generation: number;
  currentGeneration: () => number;
}

export class VerifiedCache<R> {
  readonly #entries = new Map<string, VerifiedToken<R>>();
  readonly #max: number;
  readonly #skewS: number;

  constructor(max: number, skewS: number) {
    this.#max = max;
    this.#skewS = skewS;
  }

  get(token: string, nowS = Date.now() / 1000): VerifiedToken<R> | undefined {
    const hit = this.#entries.get(token);
    if (!hit) return undefined;
    const { exp, nbf } = hit.payload;
    const timely = (exp === undefined || nowS <= exp + this.#skewS) && (nbf === undefined || nowS >= nbf - this.#skewS);
    this.#entries.delete(token);
    if (!timely || hit.generation !== hit.currentGeneration()) return undefined;
    this.#entries.set(token, hit);
    return hit;
  }

  set(token: string, entry: VerifiedToken<R>): void {
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}

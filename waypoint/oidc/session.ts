/**
 * The browser's session and login state, sealed into cookies with JWE (`dir`,
 * A256GCM: encrypted and authenticated, so a cookie cannot be read, forged or
 * altered, and an altered one fails to open). The key is derived with HKDF from
 * the client secret or a dedicated key file, bound to the issuer and client, so
 * two OidcLogins never accept each other's cookies. Each sealed value carries
 * its own `exp`: a stolen cookie dies with the session however long the browser
 * keeps it. A session cookie must fit a browser's 4 KiB; one that would not is
 * sealed without the raw ID token (used only as the logout hint), and refused
 * if still too large.
 */
import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

/** Name, value and attributes must stay within the 4096 bytes browsers keep per cookie. */
export const MAX_COOKIE_VALUE_BYTES = 3800;

/** A logged-in browser. */
export interface Session {
  /** The ID token's claims: request.auth.claims. */
  claims: JWTPayload;
  /** When the tokens run out (epoch seconds): a refresh is due shortly before. */
  expiresAt: number;
  refreshToken?: string;
  /** The raw ID token, for the issuer's logout (`id_token_hint`). */
  idToken?: string;
}

/** A login under way: what the callback must find again. */
export interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  /** The path (and query) the browser asked for, to land on after login. */
  returnTo: string;
}

const ALG = { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] };

export class SessionTooLarge extends Error {
  readonly code = 'EOIDC_SESSION_TOO_LARGE';
}

export class Sealer {
  readonly #key: Uint8Array;

  /** `secret`: the client secret or the session key file's bytes; `context` binds the key to one issuer and client. */
  constructor(secret: Buffer, context: string) {
    this.#key = new Uint8Array(hkdfSync('sha256', secret, 'ambit-oidc-session-v1', context, 32));
  }

  async #seal(kind: string, body: Record<string, unknown>, lifetimeS: number): Promise<string> {
    return new EncryptJWT({ ...body, k: kind })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(lifetimeS)))
      .encrypt(this.#key);
  }

  async #open(kind: string, value: string | undefined): Promise<Record<string, unknown> | undefined> {
    if (value === undefined || value.length > 2 * MAX_COOKIE_VALUE_BYTES) return undefined;
    try {
      const { payload } = await jwtDecrypt(value, this.#key, ALG);
      return payload.k === kind ? payload : undefined;
    } catch {
      return undefined;
    }
  }

  async sealSession(s: Session, lifetimeS: number): Promise<string> {
    const body = { c: s.claims, e: s.expiresAt, ...(s.refreshToken ? { r: s.refreshToken } : {}) };
    const full = await this.#seal('s', s.idToken ? { ...body, i: s.idToken } : body, lifetimeS);
    if (full.length <= MAX_COOKIE_VALUE_BYTES) return full;
    const lean = await this.#seal('s', body, lifetimeS);
    if (lean.length <= MAX_COOKIE_VALUE_BYTES) return lean;
    throw new SessionTooLarge(
      `the session (ID token claims and refresh token) seals to ${lean.length} bytes, more than a cookie holds (${MAX_COOKIE_VALUE_BYTES}): ask the issuer for fewer claims (scopes)`,
    );
  }

  /** The session in a cookie value, or undefined when it is absent, expired, altered or sealed with another key. */
  async openSession(value: string | undefined): Promise<(Session & { lifetimeEnds: number }) | undefined> {
    const p = await this.#open('s', value);
    if (!p || typeof p.c !== 'object' || p.c === null || typeof p.e !== 'number') return undefined;
    return {
      claims: p.c as JWTPayload,
      expiresAt: p.e,
      ...(typeof p.r === 'string' ? { refreshToken: p.r } : {}),
      ...(typeof p.i === 'string' ? { idToken: p.i } : {}),
      lifetimeEnds: typeof p.exp === 'number' ? p.exp : 0,
    };
  }

  sealLogin(l: LoginState, lifetimeS: number): Promise<string> {
    return this.#seal('l', { ...l }, lifetimeS);
  }

  async openLogin(value: string | undefined): Promise<LoginState | undefined> {
    const p = await this.#open('l', value);
    if (!p) return undefined;
    const { state, nonce, verifier, returnTo } = p;
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string' || typeof returnTo !== 'string') return undefined;
    return { state, nonce, verifier, returnTo };
  }
}

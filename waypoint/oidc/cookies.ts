/**
 * The cookies of the browser login: read from a request's Cookie header(s),
 * written as Set-Cookie with the resource's attributes, and taken out of the
 * request before it goes to the service (the session is the waypoint's; the
 * service has no key to read it and no business holding it).
 */
import type { OidcCookie } from '../../core/config/index.js';

type Headers = Record<string, string | string[] | undefined>;

export interface CookieAttributes {
  secure: boolean;
  sameSite: 'Strict' | 'Lax' | 'None';
  domain: string | undefined;
}

export const attributesOf = (c: OidcCookie | undefined): CookieAttributes => ({
  secure: c?.secure ?? true,
  sameSite: c?.sameSite ?? 'Lax',
  domain: c?.domain,
});

const cookieHeader = (headers: Headers): string[] => {
  const v = headers.cookie;
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/** The value of cookie `name` in the request, or undefined. */
export function readCookie(headers: Headers, name: string): string | undefined {
  for (const line of cookieHeader(headers)) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** Removes the cookies in `names` from the request (the header goes when nothing is left). */
export function stripCookies(headers: Headers, names: readonly string[]): void {
  const kept = cookieHeader(headers)
    .flatMap((line) => line.split(';'))
    .filter((part) => {
      const eq = part.indexOf('=');
      return part.trim() !== '' && !(eq > 0 && names.includes(part.slice(0, eq).trim()));
    })
    .map((p) => p.trim());
  if (kept.length === 0) delete headers.cookie;
  else headers.cookie = kept.join('; ');
}

/** A Set-Cookie value; `maxAgeS` 0 deletes the cookie. Always HttpOnly: scripts on the page never see the session. */
export function setCookie(name: string, value: string, maxAgeS: number, a: CookieAttributes, sameSite = a.sameSite): string {
  const parts = [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(maxAgeS))}`, 'HttpOnly', `SameSite=${sameSite}`];
  if (a.secure) parts.push('Secure');
  if (a.domain) parts.push(`Domain=${a.domain}`);
  return parts.join('; ');
}

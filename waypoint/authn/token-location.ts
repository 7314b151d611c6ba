/**
 * Where a jwtRule looks for its token, as Istio configures Envoy: the headers
 * it names (each with an optional prefix such as "Bearer "), query parameters
 * and cookies; with no location given, `Authorization: Bearer <token>` and the
 * `access_token` query parameter.
 */
import type { JWTRule } from '../../core/config/index.js';

export type TokenSource = { kind: 'header'; name: string; prefix: string } | { kind: 'param'; name: string } | { kind: 'cookie'; name: string };

export interface FoundToken {
  token: string;
  source: TokenSource;
}

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

export function sourcesOf(rule: JWTRule): TokenSource[] {
  const headers = rule.fromHeaders?.map((h): TokenSource => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' })) ?? [];
  const params = rule.fromParams?.map((name): TokenSource => ({ kind: 'param', name })) ?? [];
  const cookies = rule.fromCookies?.map((name): TokenSource => ({ kind: 'cookie', name })) ?? [];
  if (headers.length + params.length + cookies.length > 0) return [...headers, ...params, ...cookies];
  return [
    { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
    { kind: 'param', name: 'access_token' },
  ];
}

const first = (v: string | readonly string[] | undefined): string | undefined => (typeof v === 'string' ? v : v?.[0]);

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The token at `source` in this request, or undefined; `query` is the request target's query string. */
export function tokenAt(source: TokenSource, headers: Headers, query: URLSearchParams | undefined): string | undefined {
  switch (source.kind) {
    case 'header': {
      const value = first(headers[source.name]);
      if (value === undefined) return undefined;
      // Envoy matches the prefix exactly; a header without it carries no token for this rule.
      if (!value.startsWith(source.prefix)) return undefined;
      return value.slice(source.prefix.length).trim() || undefined;
    }
    case 'param':
      return query?.get(source.name) ?? undefined;
    case 'cookie':
      return cookie(first(headers.cookie), source.name);
  }
}

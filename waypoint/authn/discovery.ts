/**
 * OpenID Connect discovery (OpenID Connect Discovery 1.0 §4): an issuer's
 * `/.well-known/openid-configuration`, fetched with a timeout and a size bound.
 * RequestAuthentication reads only its jwks_uri (jwks.ts); the browser login
 * (waypoint/oidc/) reads the endpoints of the authorization code flow too. One
 * fetch and one validation for both, so they never disagree about an issuer.
 */

/** Discovery and JWKS documents larger than this are refused: they are a few KiB, and the fetch must stay bounded. */
export const MAX_DOCUMENT_BYTES = 1 << 20;

/** What ambit reads of a provider's configuration document. */
export interface ProviderMetadata {
  issuer: string;
  jwksUri: string;
  authorizationEndpoint: string | undefined;
  tokenEndpoint: string | undefined;
  endSessionEndpoint: string | undefined;
  tokenEndpointAuthMethods: readonly string[];
  codeChallengeMethods: readonly string[];
}

export async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const text = await res.text();
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new Error(`document larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return text;
}

export const discoveryUrl = (issuer: string): string => `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;

const optionalUrl = (doc: Record<string, unknown>, key: string, where: string): string | undefined => {
  const v = doc[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^https?:\/\//.test(v)) throw new Error(`${where}: ${key} is not an http(s) URL`);
  return v;
};

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The issuer's configuration; throws with the URL and the reason when it cannot be had or is not a provider's document. */
export async function discover(issuer: string, timeoutMs: number): Promise<ProviderMetadata> {
  if (!/^https?:\/\//.test(issuer)) throw new Error(`issuer ${issuer} is not a URL, so it has no discovery document: set jwks or jwksUri`);
  const where = discoveryUrl(issuer);
  const doc = JSON.parse(await fetchText(where, timeoutMs)) as unknown;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${where} is not a JSON object`);
  const d = doc as Record<string, unknown>;
  const jwksUri = optionalUrl(d, 'jwks_uri', where);
  if (jwksUri === undefined) throw new Error(`${where} has no jwks_uri`);
  // §4.3: the document must be the issuer's own, or its tokens could be anyone's.
  if (d.issuer !== undefined && (typeof d.issuer !== 'string' || d.issuer.replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')))
    throw new Error(`${where} names issuer ${JSON.stringify(d.issuer)}, not ${issuer}`);
  return {
    issuer,
    jwksUri,
    authorizationEndpoint: optionalUrl(d, 'authorization_endpoint', where),
    tokenEndpoint: optionalUrl(d, 'token_endpoint', where),
    endSessionEndpoint: optionalUrl(d, 'end_session_endpoint', where),
    tokenEndpointAuthMethods: stringList(d.token_endpoint_auth_methods_supported),
    codeChallengeMethods: stringList(d.code_challenge_methods_supported),
  };
}

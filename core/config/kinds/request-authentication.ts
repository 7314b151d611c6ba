/**
 * RequestAuthentication (security.istio.io): which JWTs a waypoint accepts.
 * A request with an invalid token is rejected; one without a token passes
 * unauthenticated (AuthorizationPolicy decides whether that is enough).
 */
import { array, bool, object, oneOf, refine, req, string, type Schema } from '../schema.js';
import { duration, httpUrlProblem, onePolicyTarget, policyTargetShape, strings, type PolicyTarget } from './common.js';

export interface JWTHeader {
  name: string;
  prefix?: string;
}

export interface ClaimToHeader {
  header: string;
  claim: string;
}

export interface JWTRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  /** An inline JWKS document (JSON text). */
  jwks?: string;
  fromHeaders?: JWTHeader[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: ClaimToHeader[];
  /** Milliseconds: how long to wait for jwksUri. */
  timeout?: number;
}

export interface RequestAuthenticationSpec extends PolicyTarget {
  jwtRules?: JWTRule[];
}

function jwksProblem(text: string): string | undefined {
  try {
    const doc: unknown = JSON.parse(text);
    const keys = (doc as { keys?: unknown } | null)?.keys;
    return Array.isArray(keys) ? undefined : 'is not a JWKS document (a JSON object with a "keys" list)';
  } catch (err) {
    return `is not valid JSON: ${(err as Error).message}`;
  }
}

const jwtRule = (): Schema<JWTRule> =>
  object<JWTRule>(
    {
      issuer: req(string()),
      audiences: strings(),
      jwksUri: refine(string(), httpUrlProblem),
      jwks: refine(string(), jwksProblem),
      fromHeaders: array(object<JWTHeader>({ name: req(string()), prefix: string() })),
      fromParams: strings(),
      fromCookies: strings(),
      outputPayloadToHeader: string(),
      forwardOriginalToken: bool(),
      outputClaimToHeaders: array(object<ClaimToHeader>({ header: req(string()), claim: req(string()) })),
      timeout: duration({ minMs: 1 }),
    },
    { check: oneOf<JWTRule>(['jwksUri', 'jwks'], { optional: true }) },
  );

export const requestAuthenticationSpec = (): Schema<RequestAuthenticationSpec> =>
  object<RequestAuthenticationSpec>({ ...policyTargetShape(), jwtRules: array(jwtRule()) }, { check: onePolicyTarget<RequestAuthenticationSpec>() });

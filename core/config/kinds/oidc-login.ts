/**
 * OidcLogin (ambit.dev/v1alpha1): an optional browser login in front of a
 * service, done by its waypoint (OpenID Connect authorization code flow with
 * PKCE, as Envoy's oauth2 filter or oauth2-proxy do it). Istio has no such
 * resource; users bolt oauth2-proxy on with ext_authz. Here it is one kind,
 * and its ID token's claims reach AuthorizationPolicy as request.auth.* just
 * as RequestAuthentication's do.
 */
import { isAbsolute } from 'node:path';
import { array, bool, enumOf, object, refine, req, string, Codes, type Cursor, type Schema } from '../schema.js';
import { duration, httpUrlProblem, onePolicyTarget, policyTargetShape, strings, type PolicyTarget } from './common.js';

export interface OidcCookie {
  /** Default `ambit_session`; the login's state travels in `<name>_login`. */
  name?: string;
  /** Default true: a session cookie only over HTTPS, as a browser reached the service. */
  secure?: boolean;
  /** Default Lax (Strict would drop the session on the redirect back from the issuer's login page). */
  sameSite?: 'Strict' | 'Lax' | 'None';
  domain?: string;
  /** Milliseconds: how long a session lasts, refreshes included (default 24 h). */
  maxAge?: number;
}

export interface OidcLogout {
  path: string;
  /** Where the browser lands after logout: a path on the service or an absolute URL (default "/"). */
  postLogoutRedirectUri?: string;
}

export interface OidcLoginSpec extends PolicyTarget {
  issuer: string;
  clientId: string;
  /** A file on the waypoint's host holding the client secret (trailing newline ignored). */
  clientSecretFile: string;
  /** A file with at least 32 bytes to derive the session cookie key from; default: the client secret. */
  sessionKeyFile?: string;
  /** Default /oauth2/callback; registered at the issuer as http(s)://<host><redirectPath>. */
  redirectPath?: string;
  /** Default [openid, profile, email]; openid is always asked for. */
  scopes?: string[];
  cookie?: OidcCookie;
  /** Path prefixes that need a login (default ["/"]); elsewhere a session is read but not demanded. */
  paths?: string[];
  /** Path prefixes that never need one (health checks, static assets), taking precedence over paths. */
  exemptPaths?: string[];
  logout?: OidcLogout;
  /** Milliseconds: how long to wait for the issuer's endpoints (default 5 s). */
  timeout?: number;
}

const pathProblem = (p: string): string | undefined => (p.startsWith('/') ? undefined : `${JSON.stringify(p)} must start with "/"`);
const fileProblem = (f: string): string | undefined => (isAbsolute(f) ? undefined : `${JSON.stringify(f)} must be an absolute path on the waypoint's host`);
/** RFC 6265 cookie-name: a token, no separators. */
const cookieNameProblem = (n: string): string | undefined =>
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n) ? undefined : `${JSON.stringify(n)} is not a cookie name (letters, digits and !#$%&'*+-.^_\`|~)`;

const cookie = (): Schema<OidcCookie> =>
  object<OidcCookie>(
    {
      name: refine(string(), cookieNameProblem),
      secure: bool(),
      sameSite: enumOf(['Strict', 'Lax', 'None']),
      domain: string(),
      maxAge: duration({ minMs: 60_000 }),
    },
    {
      check: (c, at) => {
        // Browsers drop a SameSite=None cookie that is not Secure.
        if (c.sameSite === 'None' && c.secure === false) at.at('sameSite').fail(Codes.value, 'sameSite None needs secure: true (browsers refuse it otherwise)');
      },
    },
  );

function checkSpec(spec: OidcLoginSpec, at: Cursor): void {
  onePolicyTarget<OidcLoginSpec>()(spec, at);
  if (spec.targetRef === undefined && spec.targetRefs === undefined)
    at.fail(Codes.required, 'targetRefs is required: name the Service whose waypoint does the login');
  if (spec.selector !== undefined) at.at('selector').fail(Codes.unsupported, 'the login happens at waypoints: use targetRefs with the Service');
  const redirect = spec.redirectPath ?? '/oauth2/callback';
  if (spec.logout && spec.logout.path === redirect) at.at('logout').at('path').fail(Codes.value, `the logout path cannot be the redirect path ${redirect}`);
  if (spec.scopes?.some((s) => /\s/.test(s))) at.at('scopes').fail(Codes.value, 'a scope has no spaces: list each one on its own');
}

export const oidcLoginSpec = (): Schema<OidcLoginSpec> =>
  object<OidcLoginSpec>(
    {
      ...policyTargetShape(),
      issuer: req(refine(string(), httpUrlProblem)),
      clientId: req(refine(string(), (c) => (c === '' ? 'must not be empty' : undefined))),
      clientSecretFile: req(refine(string(), fileProblem)),
      sessionKeyFile: refine(string(), fileProblem),
      redirectPath: refine(string(), pathProblem),
      scopes: strings(),
      cookie: cookie(),
      paths: array(refine(string(), pathProblem)),
      exemptPaths: array(refine(string(), pathProblem)),
      logout: object<OidcLogout>({
        path: req(refine(string(), pathProblem)),
        postLogoutRedirectUri: refine(string(), (u) => (u.startsWith('/') ? undefined : httpUrlProblem(u))),
      }),
      timeout: duration({ minMs: 1 }),
    },
    { check: checkSpec },
  );

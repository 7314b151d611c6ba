/**
 * Istio's path templates in `paths`/`notPaths`: a path containing `{*}` or
 * `{**}` is an Envoy URI template rather than a string match.
 *   `{*}`  one path segment: one or more pchars, no "/";
 *   `{**}` zero or more pchars and "/"; once, and no operator after it.
 * Every other segment must be a non-empty run of RFC 3986 pchars (Istio's
 * validation), and the whole path must match (Envoy compiles the template to
 * an anchored RE2 regex over the path without its query). Compiled once here.
 */
import { AuthzError } from './errors.js';

const MATCH_ONE = '{*}';
const MATCH_ANY = '{**}';
/** RFC 3986 pchar without "/" as Istio validates literals ("*" is not one). */
const PCHAR = "a-zA-Z0-9._~%!$&'()+,;:@=\\-";
const LITERAL = new RegExp(`^[${PCHAR}]+$`);
const ONE_SEGMENT = `[${PCHAR}]+`;
const ANY_SEGMENTS = `[${PCHAR}/]*`;

export function isPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
}

/** What Istio would say is wrong with this template, or undefined. */
export function pathTemplateProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `path template ${JSON.stringify(path)} must start with "/"`;
  let sawAny = false;
  // Istio trims the slashes at both ends before checking segments.
  for (const segment of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if (segment === MATCH_ONE || segment === MATCH_ANY) {
      if (sawAny) return `{**} must be the last operator in path template ${JSON.stringify(path)}`;
      sawAny = segment === MATCH_ANY;
    } else if (/[{}]/.test(segment)) {
      return `path template ${JSON.stringify(path)} has "{" or "}" outside a {*} or {**} segment`;
    } else if (!LITERAL.test(segment)) {
      return `path template ${JSON.stringify(path)} has segment ${JSON.stringify(segment)} that is not a plain path literal`;
    }
  }
  return undefined;
}

function escapeLiteral(segment: string): string {
  return segment.replace(/[.$()+]/g, '\\$&');
}

/** An anchored RegExp for the template; throws EAUTHZ_PATH_TEMPLATE when invalid. */
export function compilePathTemplate(path: string): RegExp {
  const problem = pathTemplateProblem(path);
  if (problem) throw new AuthzError('EAUTHZ_PATH_TEMPLATE', problem, { path });
  // As Envoy: "/" then the segments joined by "/"; a trailing "/" is an empty last segment.
  const body = path
    .slice(1)
    .split('/')
    .map((s) => (s === MATCH_ONE ? ONE_SEGMENT : s === MATCH_ANY ? ANY_SEGMENTS : escapeLiteral(s)))
    .join('/');
  return new RegExp(`^/${body}$`);
}

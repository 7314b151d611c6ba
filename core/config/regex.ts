/**
 * The one place an operator's regex is compiled: VirtualService uri, header,
 * queryParams, method, scheme and authority `regex`, and RateLimit header
 * matches. Validation at apply and the waypoint both come through here, so
 * what apply accepts is exactly what the waypoint runs.
 *
 * Istio regexes are RE2 and match the whole value (Envoy's safe_regex is
 * RE2::FullMatch). They are compiled with re2js, a port of RE2, not with
 * JavaScript's RegExp, because:
 * - RE2 matches in time linear in the input. JS's backtracking engine took
 *   8 s on a 33-byte path against `/(a+)+x` and blocked the waypoint's event
 *   loop meanwhile (issue 19); an operator's pattern must not be able to do that.
 * - the syntax is RE2's, so what Envoy would refuse (lookahead, lookbehind,
 *   backreferences, atomic groups, possessive quantifiers, JS-only escapes)
 *   is refused at apply, and inline flags anywhere (`(?i)`, `(?s)`, `(?U)`)
 *   mean what they mean to RE2.
 * Istio's own checks come first: an empty regex and one longer than 1024
 * bytes are refused (its stand-in for Envoy's RE2 program-size limit).
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { ConfigError } from '../errors.js';

/** Istio refuses longer patterns (bytes, as Go's len). */
export const MAX_REGEX_BYTES = 1024;

const RE2_SYNTAX = 'https://github.com/google/re2/wiki/Syntax';

/** A compiled Istio regex. */
export interface IstioRegex {
  /** The pattern as written in the resource. */
  readonly pattern: string;
  /** True when the whole of `value` matches, in time linear in its length. */
  test(value: string): boolean;
}

type Compiled = { ok: true; re: RE2JS } | { ok: false; problem: string };

/**
 * What the operator most likely meant, for the constructs other engines have
 * and RE2 does not. `fragment` is where RE2's parser stopped.
 */
function missingFeature(error: string, fragment: string): string | undefined {
  if (fragment.startsWith('(?=') || fragment.startsWith('(?!')) return `lookahead ${JSON.stringify(fragment.slice(0, 3))}`;
  if (fragment.startsWith('(?<=') || fragment.startsWith('(?<!')) return `lookbehind ${JSON.stringify(fragment.slice(0, 4))}`;
  if (fragment.startsWith('(?>')) return 'atomic groups "(?>"';
  if (/^\\[1-9k]/.test(fragment)) return `backreferences (${fragment.slice(0, 2)})`;
  if (error.startsWith('invalid nested repetition') && fragment.length > 1 && fragment.endsWith('+')) return `possessive quantifiers (${fragment})`;
  if (fragment.startsWith('\\u')) return '\\u escapes (write a code point as \\x{41} instead)';
  return undefined;
}

function describe(pattern: string, err: RE2JSSyntaxException): string {
  const fragment = err.getPattern() ?? '';
  const missing = missingFeature(err.error, fragment);
  const why = missing ? `RE2 (the regex syntax of Istio and Envoy) does not support ${missing}` : `${err.error}${fragment ? `: ${fragment}` : ''}`;
  return `invalid regular expression ${JSON.stringify(pattern)}: ${why}; write it in RE2 syntax (${RE2_SYNTAX})`;
}

function compile(pattern: string): Compiled {
  if (pattern === '') return { ok: false, problem: 'regex must not be empty (Istio refuses an empty regex match)' };
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > MAX_REGEX_BYTES) return { ok: false, problem: `regex is ${bytes} bytes; Istio allows at most ${MAX_REGEX_BYTES}` };
  try {
    return { ok: true, re: RE2JS.compile(pattern) };
  } catch (err) {
    if (err instanceof RE2JSSyntaxException) return { ok: false, problem: describe(pattern, err) };
    // re2js has other exception classes for what is not a syntax error (a program too large to build).
    return { ok: false, problem: `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}` };
  }
}

/** What is wrong with `pattern` as an Istio regex, or undefined when it compiles. */
export function regexProblem(pattern: string): string | undefined {
  const compiled = compile(pattern);
  return compiled.ok ? undefined : compiled.problem;
}

/** Compiles a validated pattern; throws ECONFIG_VALUE (with regexProblem's words) when it is not one. */
export function compileIstioRegex(pattern: string): IstioRegex {
  const compiled = compile(pattern);
  if (!compiled.ok) throw new ConfigError('ECONFIG_VALUE', compiled.problem);
  const re = compiled.re;
  return { pattern, test: (value) => re.testExact(value) };
}

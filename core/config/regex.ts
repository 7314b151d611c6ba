/**
 * Istio regexes are RE2 and must match the whole value (Envoy's safe_regex).
 * JavaScript has no RE2, so patterns compile to a JS RegExp, anchored, with
 * RE2's leading inline flags (`(?i)`, `(?s)`, `(?m)`) turned into JS flags,
 * which is how the sample configs and most users write case-insensitivity.
 * Validation and the waypoint both compile through here so they agree.
 */
const LEADING_FLAGS = /^\(\?([ism]+)\)/;

export function compileIstioRegex(pattern: string): RegExp {
  const flags = LEADING_FLAGS.exec(pattern);
  const body = flags ? pattern.slice(flags[0].length) : pattern;
  return new RegExp(`^(?:${body})$`, flags?.[1] ? [...new Set(flags[1])].join('') : '');
}

/** What is wrong with `pattern`, or undefined when it compiles. */
export function regexProblem(pattern: string): string | undefined {
  try {
    compileIstioRegex(pattern);
    return undefined;
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

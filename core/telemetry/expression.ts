/**
 * The small subset of CEL that Istio's Telemetry API expressions need in ambit:
 * accessLogging.filter.expression (a condition) and metrics tagOverrides values
 * (a value). Parsed once at apply time (so an expression outside the subset is
 * refused before it is stored) and evaluated per request or connection without
 * re-parsing. Pure: no I/O, no clock.
 *
 * Supported: `response.code`, `request.method`, `request.host`, `request.path`,
 * `request.headers['name']`, `connection.mtls`; integer and string literals,
 * `true`/`false`; `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`, parentheses.
 * Anything else (functions, `in`, macros, arithmetic) is refused by name.
 */

export interface TelemetryAttributes {
  readonly responseCode: number | undefined;
  readonly method: string | undefined;
  readonly host: string | undefined;
  readonly path: string | undefined;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly mtls: boolean;
}

type Value = number | string | boolean | undefined;
type Comparison = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type TelemetryExpression =
  | { readonly kind: 'literal'; readonly value: number | string | boolean }
  | { readonly kind: 'attribute'; readonly name: 'response.code' | 'request.method' | 'request.host' | 'request.path' | 'connection.mtls' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'not'; readonly operand: TelemetryExpression }
  | { readonly kind: 'and' | 'or'; readonly left: TelemetryExpression; readonly right: TelemetryExpression }
  | { readonly kind: 'compare'; readonly op: Comparison; readonly left: TelemetryExpression; readonly right: TelemetryExpression };

export type ExpressionParse = { readonly ok: true; readonly expression: TelemetryExpression } | { readonly ok: false; readonly message: string };

const ATTRIBUTES = new Set(['response.code', 'request.method', 'request.host', 'request.path', 'connection.mtls']);

type Token =
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'id'; readonly v: string }
  | { readonly t: 'op'; readonly v: string };

class Unsupported extends Error {}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if ('<>!()[].'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new Unsupported(`unterminated string at column ${i + 1}`);
      const body = src.slice(i + 1, end);
      if (body.includes('\\')) throw new Unsupported('escape sequences in strings are not supported');
      out.push({ t: 'str', v: body });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    throw new Unsupported(`operator or character '${c}' at column ${i + 1}`);
  }
  return out;
}

class Parser {
  #pos = 0;
  readonly #tokens: Token[];
  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }
  #peek(): Token | undefined {
    return this.#tokens[this.#pos];
  }
  #isOp(v: string): boolean {
    const t = this.#peek();
    return t !== undefined && t.t === 'op' && t.v === v;
  }
  #expect(v: string): void {
    if (!this.#isOp(v)) throw new Unsupported(`expected '${v}'`);
    this.#pos++;
  }
  parseAll(): TelemetryExpression {
    const e = this.#or();
    const rest = this.#peek();
    if (rest !== undefined) throw new Unsupported(`unexpected '${String(rest.v)}'`);
    return e;
  }
  #or(): TelemetryExpression {
    let left = this.#and();
    while (this.#isOp('||')) {
      this.#pos++;
      left = { kind: 'or', left, right: this.#and() };
    }
    return left;
  }
  #and(): TelemetryExpression {
    let left = this.#comparison();
    while (this.#isOp('&&')) {
      this.#pos++;
      left = { kind: 'and', left, right: this.#comparison() };
    }
    return left;
  }
  #comparison(): TelemetryExpression {
    const left = this.#unary();
    const t = this.#peek();
    if (t !== undefined && t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      this.#pos++;
      return { kind: 'compare', op: t.v as Comparison, left, right: this.#unary() };
    }
    return left;
  }
  #unary(): TelemetryExpression {
    if (this.#isOp('!')) {
      this.#pos++;
      return { kind: 'not', operand: this.#unary() };
    }
    return this.#primary();
  }
  #primary(): TelemetryExpression {
    const t = this.#peek();
    if (t === undefined) throw new Unsupported('unexpected end of expression');
    this.#pos++;
    if (t.t === 'op' && t.v === '(') {
      const e = this.#or();
      this.#expect(')');
      return e;
    }
    if (t.t === 'num') return { kind: 'literal', value: t.v };
    if (t.t === 'str') return { kind: 'literal', value: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { kind: 'literal', value: t.v === 'true' };
      let path = t.v;
      while (this.#isOp('.')) {
        this.#pos++;
        const next = this.#peek();
        if (next === undefined || next.t !== 'id') throw new Unsupported(`expected a field name after '${path}.'`);
        this.#pos++;
        path = `${path}.${next.v}`;
      }
      if (this.#isOp('(')) throw new Unsupported(`function call '${path}()'`);
      if (path === 'request.headers') {
        this.#expect('[');
        const key = this.#peek();
        if (key === undefined || key.t !== 'str') throw new Unsupported("request.headers needs a string key, e.g. request.headers['x-id']");
        this.#pos++;
        this.#expect(']');
        return { kind: 'header', name: key.v.toLowerCase() };
      }
      if (t.v === 'in') throw new Unsupported("the 'in' operator");
      if (!ATTRIBUTES.has(path)) throw new Unsupported(`attribute '${path}'`);
      return { kind: 'attribute', name: path as 'response.code' };
    }
    throw new Unsupported(`'${String(t.v)}'`);
  }
}

/** `use` names the field in the message: "access-log filter", "tag override". */
export function parseTelemetryExpression(source: string, use: string): ExpressionParse {
  try {
    return { ok: true, expression: new Parser(tokenize(source)).parseAll() };
  } catch (err) {
    if (err instanceof Unsupported) {
      return { ok: false, message: `${use} "${source}" is outside the supported CEL subset: ${err.message}` };
    }
    throw err;
  }
}

/** A tag override's value: what the expression yields, as a label value ("unknown" when the attribute is absent, as Istio writes it). */
export function evaluateLabel(e: TelemetryExpression, a: TelemetryAttributes): string {
  const v = value(e, a);
  return v === undefined ? 'unknown' : String(v);
}

function value(e: TelemetryExpression, a: TelemetryAttributes): Value {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'header':
      return a.headers[e.name];
    case 'attribute':
      switch (e.name) {
        case 'response.code':
          return a.responseCode;
        case 'request.method':
          return a.method;
        case 'request.host':
          return a.host;
        case 'request.path':
          return a.path;
        case 'connection.mtls':
          return a.mtls;
      }
      return undefined;
    default:
      return evaluateCondition(e, a);
  }
}

/** true: log this request. An attribute that is absent makes its comparison false (CEL: no such key). */
export function evaluateCondition(e: TelemetryExpression, a: TelemetryAttributes): boolean {
  switch (e.kind) {
    case 'not':
      return !evaluateCondition(e.operand, a);
    case 'and':
      return evaluateCondition(e.left, a) && evaluateCondition(e.right, a);
    case 'or':
      return evaluateCondition(e.left, a) || evaluateCondition(e.right, a);
    case 'compare': {
      const l = value(e.left, a);
      const r = value(e.right, a);
      if (l === undefined || r === undefined || typeof l !== typeof r) return e.op === '!=' && l !== r;
      switch (e.op) {
        case '==':
          return l === r;
        case '!=':
          return l !== r;
        case '<':
          return l < r;
        case '<=':
          return l <= r;
        case '>':
          return l > r;
        case '>=':
          return l >= r;
      }
      return false;
    }
    default:
      return value(e, a) === true;
  }
}

/**
 * A small schema language for validating parsed YAML and producing the typed
 * form in one pass. Every helper rejects wrong types; `object` rejects fields
 * it does not know, because a silently ignored Istio field would change what
 * the user's policy means. Problems are collected, not thrown, so one run
 * reports every mistake in a file.
 */
import type { ConfigErrorCode } from '../errors.js';
import type { Path } from './path.js';

/** What a schema needs to know beyond the value: where short host names resolve. */
export interface ParseContext {
  namespace: string;
  domain: string;
}

export const Codes = {
  type: 'ECONFIG_TYPE',
  value: 'ECONFIG_VALUE',
  required: 'ECONFIG_REQUIRED',
  unsupported: 'ECONFIG_UNSUPPORTED',
} as const;

export interface Issue {
  path: Path;
  code: ConfigErrorCode;
  detail: string;
}

/** A position in the document being validated; failures are recorded against it. */
export class Cursor {
  constructor(
    readonly path: Path,
    readonly ctx: ParseContext,
    readonly issues: Issue[] = [],
  ) {}

  at(key: string | number): Cursor {
    return new Cursor([...this.path, key], this.ctx, this.issues);
  }

  fail(code: ConfigErrorCode, detail: string): undefined {
    this.issues.push({ path: this.path, code, detail });
    return undefined;
  }
}

export interface Schema<T> {
  /** `undefined` means the value was invalid and the reason is already recorded. */
  parse(value: unknown, at: Cursor): T | undefined;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function primitive<T>(expected: string, test: (v: unknown) => v is T): Schema<T> {
  return {
    parse: (value, at) => (test(value) ? value : at.fail(Codes.type, `must be ${expected}, not ${describe(value)}`)),
  };
}

/** Adds a check to a schema; `check` returns what is wrong, or undefined. */
export function refine<T>(schema: Schema<T>, check: (value: T, at: Cursor) => string | undefined): Schema<T> {
  return transform(schema, (value, at) => {
    const problem = check(value, at);
    return problem === undefined ? value : at.fail(Codes.value, problem);
  });
}

/** Maps a valid value to its typed form; `fn` records its own failures on `at`. */
export function transform<A, B>(schema: Schema<A>, fn: (value: A, at: Cursor) => B | undefined): Schema<B> {
  return {
    parse: (value, at) => {
      const parsed = schema.parse(value, at);
      return parsed === undefined ? undefined : fn(parsed, at);
    },
  };
}

export function string(): Schema<string> {
  return primitive('a string', (v): v is string => typeof v === 'string');
}

export function bool(): Schema<boolean> {
  return primitive('true or false', (v): v is boolean => typeof v === 'boolean');
}

interface Range {
  min?: number;
  max?: number;
}

function inRange(range: Range) {
  return (v: number): string | undefined => {
    if (range.min !== undefined && v < range.min) return `must be at least ${range.min}, not ${v}`;
    if (range.max !== undefined && v > range.max) return `must be at most ${range.max}, not ${v}`;
    return undefined;
  };
}

export function number(range: Range = {}): Schema<number> {
  const finite = primitive('a number', (v): v is number => typeof v === 'number' && Number.isFinite(v));
  return refine(finite, inRange(range));
}

export function int(range: Range = {}): Schema<number> {
  const integer = primitive('an integer', (v): v is number => Number.isInteger(v));
  return refine(integer, inRange(range));
}

export const port = (): Schema<number> => int({ min: 1, max: 65535 });

/**
 * One of a fixed set of strings. Values Istio defines but ambit does not
 * implement get their own message, so users know the YAML is not a typo.
 */
export function enumOf<const V extends string>(allowed: readonly V[], notImplemented: readonly string[] = []): Schema<V> {
  return transform(string(), (value, at) => {
    if ((allowed as readonly string[]).includes(value)) return value as V;
    if (notImplemented.includes(value)) return at.fail(Codes.unsupported, `value ${value} is not supported by ambit`);
    return at.fail(Codes.value, `must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  });
}

export function array<T>(item: Schema<T>, opts: { min?: number } = {}): Schema<T[]> {
  return {
    parse: (value, at) => {
      if (!Array.isArray(value)) return at.fail(Codes.type, `must be a list, not ${describe(value)}`);
      if (opts.min !== undefined && value.length < opts.min) {
        return at.fail(Codes.value, `must have at least ${opts.min} item${opts.min === 1 ? '' : 's'}`);
      }
      const out: T[] = [];
      let ok = true;
      value.forEach((v, i) => {
        const parsed = item.parse(v, at.at(i));
        if (parsed === undefined) ok = false;
        else out.push(parsed);
      });
      return ok ? out : undefined;
    },
  };
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A map with free-form keys (labels, headers); `key` says what is wrong with a key. */
export function record<T>(item: Schema<T>, key?: (k: string) => string | undefined): Schema<Record<string, T>> {
  return {
    parse: (value, at) => {
      if (!isMapping(value)) return at.fail(Codes.type, `must be a mapping, not ${describe(value)}`);
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, v] of Object.entries(value)) {
        const problem = key?.(k);
        const parsed = problem === undefined ? item.parse(v, at.at(k)) : at.at(k).fail(Codes.value, problem);
        if (parsed === undefined) ok = false;
        else out[k] = parsed;
      }
      return ok ? out : undefined;
    },
  };
}

export interface RequiredField<T> {
  readonly required: true;
  readonly schema: Schema<T>;
}

export function req<T>(schema: Schema<T>): RequiredField<T> {
  return { required: true, schema };
}

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** Optional properties of T take a schema, required ones a `req(schema)`. */
export type Shape<T> = {
  [K in keyof T]-?: K extends OptionalKeys<T> ? Schema<NonNullable<T[K]>> : RequiredField<T[K]>;
};

type AnyField = Schema<unknown> | RequiredField<unknown>;

function fieldSchema(field: AnyField): Schema<unknown> {
  return 'required' in field ? field.schema : field;
}

export interface ObjectOptions<T> {
  /** Runs only when every field is valid, for rules across fields (one-of, sums, uniqueness). */
  check?: (value: T, at: Cursor) => void;
  /** Fields Istio defines that ambit rejects, each with the reason users should read. */
  unsupported?: Record<string, string>;
  /**
   * Drop unknown fields instead of refusing them: for reports one ambit process
   * reads from another, where a newer version may say more than this one knows.
   * Never for configuration or for records that grant anything.
   */
  ignoreUnknown?: boolean;
}

/**
 * A mapping with known fields. Unknown fields are errors. `null` counts as
 * absent, as the Kubernetes API server treats it.
 */
export function object<T>(shape: Shape<T>, opts: ObjectOptions<T> = {}): Schema<T> {
  const fields = shape as unknown as Record<string, AnyField>;
  const rejected = opts.unsupported ?? {};
  return {
    parse: (value, at) => {
      if (!isMapping(value)) return at.fail(Codes.type, `must be a mapping, not ${describe(value)}`);
      const before = at.issues.length;
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
        if (!field) {
          if (opts.ignoreUnknown) continue;
          const reason = Object.hasOwn(rejected, key) ? `: ${rejected[key]}` : '';
          at.at(key).fail(Codes.unsupported, `field ${key} is not supported by ambit${reason}`);
        } else if (v !== null && v !== undefined) {
          const parsed = fieldSchema(field).parse(v, at.at(key));
          if (parsed !== undefined) out[key] = parsed;
        }
      }
      for (const [key, field] of Object.entries(fields)) {
        if ('required' in field && (value[key] ?? null) === null) at.at(key).fail(Codes.required, 'is required');
      }
      if (at.issues.length > before) return undefined;
      opts.check?.(out as T, at);
      return at.issues.length > before ? undefined : (out as T);
    },
  };
}

/** Cross-field check: exactly one (or, with `optional`, at most one) of `keys` is set. */
export function oneOf<T>(keys: readonly (keyof T & string)[], opts: { optional?: boolean } = {}) {
  return (value: T, at: Cursor): void => {
    const set = keys.filter((k) => value[k] !== undefined);
    if (set.length > 1) at.fail(Codes.value, `only one of ${keys.join(', ')} may be set, not ${set.join(' and ')}`);
    else if (set.length === 0 && !opts.optional) at.fail(Codes.required, `one of ${keys.join(', ')} is required`);
  };
}

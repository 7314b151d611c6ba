/**
 * Typed errors shared by every ambit process. Each carries a stable `code`
 * (for scripts, metrics labels and tests) and optional structured context, so
 * a message can say which resource, field, file or peer was at fault.
 */
import type { AuthzErrorCode } from './authz/errors.js';
import type { ErrorCode } from './error-codes.js';

export type ErrorContext = Record<string, unknown>;

export class AmbitError<Code extends ErrorCode = ErrorCode> extends Error {
  readonly code: Code;
  readonly context: ErrorContext;

  /**
   * Subclasses narrow `Code` to their module's union of codes
   * (`class DnsError extends AmbitError<DnsErrorCode> {}`), so a typo in a
   * code is a compile error and consumers can switch on it exhaustively.
   * Every code must be in core/error-codes.ts, where operators find what it
   * means: a union with an unregistered member does not compile.
   */
  constructor(code: Code, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** `instanceof` narrows a generic class to AmbitError<any>; this keeps the registered-code type. */
export function isAmbitError(err: unknown): err is AmbitError {
  return err instanceof AmbitError;
}

/**
 * Why a configuration document or settings file was refused. Stable codes:
 * `ambit apply`, ambitd and the tests match them, so rename none of them.
 */
export type ConfigErrorCode =
  /** The text is not YAML; the message carries yaml's reason and the line. */
  | 'ECONFIG_YAML'
  /** A file named with -f cannot be read, or "-" was given without standard input. */
  | 'ECONFIG_READ'
  /** One input (a file or standard input) is larger than `ambit apply` reads (core/config/input-limits.ts). */
  | 'ECONFIG_TOO_LARGE'
  /** One apply holds more documents than the store writes in one batch (core/config/input-limits.ts). */
  | 'ECONFIG_TOO_MANY_DOCUMENTS'
  /** `kind` names a kind ambit does not support. */
  | 'ECONFIG_KIND'
  /** `apiVersion` is not one the kind is served under. */
  | 'ECONFIG_API_VERSION'
  /** A field has the wrong type (a mapping where a list belongs, ...). */
  | 'ECONFIG_TYPE'
  /** A field has the right type but a value that is not allowed. */
  | 'ECONFIG_VALUE'
  /** A required field is missing. */
  | 'ECONFIG_REQUIRED'
  /** A field or value that ambit does not implement (refused, never ignored). */
  | 'ECONFIG_UNSUPPORTED'
  /** One kind/namespace/name is defined twice across the inputs. */
  | 'ECONFIG_DUPLICATE'
  /** The inputs hold no resource at all: an empty file, a directory without YAML, an empty standard input. */
  | 'ECONFIG_EMPTY'
  /** Several problems at once; `ConfigErrors.errors` lists each. */
  | 'ECONFIG_MULTIPLE'
  /** An AuthorizationPolicy that does not compile, reported by `ambit apply` as a problem of its file. */
  | AuthzErrorCode;

/** Where in a config file a problem sits; `line` is 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
}

/**
 * A configuration document is invalid. The message is complete on its own:
 * `file:line: Kind ns/name: field: what is wrong`.
 */
export class ConfigError extends AmbitError<ConfigErrorCode> {
  readonly location: SourceLocation | undefined;
  readonly resource: string | undefined;
  readonly field: string | undefined;

  constructor(code: ConfigErrorCode, detail: string, where: { location?: SourceLocation; resource?: string; field?: string } = {}) {
    const parts: string[] = [];
    if (where.location) parts.push(where.location.line ? `${where.location.file}:${where.location.line}` : where.location.file);
    if (where.resource) parts.push(where.resource);
    if (where.field) parts.push(where.field);
    parts.push(detail);
    super(code, parts.join(': '), { ...where });
    this.location = where.location;
    this.resource = where.resource;
    this.field = where.field;
  }
}

/** Several config errors found in one pass, reported together. */
export class ConfigErrors extends AmbitError<ConfigErrorCode> {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    const head = errors.length === 1 ? errors[0]!.message : `${errors.length} problems:\n  ${errors.map((e) => e.message).join('\n  ')}`;
    super(errors.length === 1 ? errors[0]!.code : 'ECONFIG_MULTIPLE', head, { count: errors.length });
    this.errors = errors;
  }
}

/**
 * Why the store refused or failed an operation. Stable codes: the CLI, the
 * doctor and the tests switch on them, so rename none of them.
 */
export type StoreErrorCode =
  /** A record to write is malformed (a name with "/" or spaces, a bad port or TTL, a key twice in one apply). */
  | 'ESTORE_INVALID'
  /** Other writers kept changing the same keys; the write gave up after its retries. */
  | 'ESTORE_CONFLICT'
  /** The store holds something ambit cannot read (an unknown change type in the change log). */
  | 'ESTORE_CORRUPT'
  /** The Redis URL is malformed or has a scheme other than redis:// or rediss://. */
  | 'EREDIS_URL'
  /** Redis refused the credentials (NOAUTH, WRONGPASS). */
  | 'EREDIS_AUTH'
  /** Redis did not answer (refused, timed out, connection closed). */
  | 'EREDIS_UNREACHABLE'
  /** Redis answered a command with an error ambit has no better name for. */
  | 'EREDIS';

const STORE_ERROR_CODES: Record<StoreErrorCode, true> = {
  ESTORE_INVALID: true,
  ESTORE_CONFLICT: true,
  ESTORE_CORRUPT: true,
  EREDIS_URL: true,
  EREDIS_AUTH: true,
  EREDIS_UNREACHABLE: true,
  EREDIS: true,
};

/** True for a StoreErrorCode, such as the one a Lua script put at the head of its error reply. */
export function isStoreErrorCode(code: string): code is StoreErrorCode {
  return Object.hasOwn(STORE_ERROR_CODES, code);
}

/** The store (Redis) could not be reached or answered with an error. */
export class StoreError extends AmbitError<StoreErrorCode> {}

/**
 * A resource asked for by kind/namespace/name does not exist. Its code is
 * ambit's own, not getaddrinfo's ENOTFOUND, which callers retry on.
 */
export class NotFoundError extends AmbitError<'ESTORE_NOT_FOUND'> {
  constructor(what: string, context: ErrorContext = {}) {
    super('ESTORE_NOT_FOUND', `${what} not found`, context);
  }
}

/** Command-line usage problems (bad flag values, missing arguments). */
export class UsageError extends AmbitError<'EUSAGE'> {
  constructor(message: string, context: ErrorContext = {}) {
    super('EUSAGE', message, context);
  }
}

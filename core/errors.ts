/**
 * Typed errors shared by every ambit process. Each carries a stable `code`
 * (for scripts, metrics labels and tests) and optional structured context, so
 * a message can say which resource, field, file or peer was at fault.
 */
export type ErrorContext = Record<string, unknown>;

export class AmbitError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly context: ErrorContext;

  /**
   * Subclasses narrow `Code` to their module's union of codes
   * (`class DnsError extends AmbitError<DnsErrorCode> {}`), so a typo in a
   * code is a compile error and consumers can switch on it exhaustively.
   */
  constructor(code: Code, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** Where in a config file a problem sits; `line` is 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
}

/**
 * A configuration document is invalid. The message is complete on its own:
 * `file:line: Kind ns/name: field: what is wrong`.
 */
export class ConfigError extends AmbitError {
  readonly location: SourceLocation | undefined;
  readonly resource: string | undefined;
  readonly field: string | undefined;

  constructor(
    code: string,
    detail: string,
    where: { location?: SourceLocation; resource?: string; field?: string } = {},
  ) {
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
export class ConfigErrors extends AmbitError {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    const head = errors.length === 1 ? errors[0]!.message : `${errors.length} problems:\n  ${errors.map((e) => e.message).join('\n  ')}`;
    super(errors.length === 1 ? errors[0]!.code : 'ECONFIG_MULTIPLE', head, { count: errors.length });
    this.errors = errors;
  }
}

/** The store (Redis) could not be reached or answered with an error. */
export class StoreError extends AmbitError {}

/**
 * A resource asked for by kind/namespace/name does not exist. Its code is
 * ambit's own, not getaddrinfo's ENOTFOUND, which callers retry on.
 */
export class NotFoundError extends AmbitError {
  constructor(what: string, context: ErrorContext = {}) {
    super('ESTORE_NOT_FOUND', `${what} not found`, context);
  }
}

/** Command-line usage problems (bad flag values, missing arguments). */
export class UsageError extends AmbitError {
  constructor(message: string, context: ErrorContext = {}) {
    super('EUSAGE', message, context);
  }
}

import { AmbitError } from '../errors.js';

/**
 * Why an AuthorizationPolicy could not be compiled. The codes are stable:
 * `ambit apply`, the daemon and the waypoint log them and tests match them,
 * so rename none of them.
 */
export type AuthzErrorCode =
  /** The resource handed to the compiler is not an AuthorizationPolicy. */
  | 'EAUTHZ_NOT_A_POLICY'
  /** The spec does not pass the config schema (the cause holds the ConfigErrors). */
  | 'EAUTHZ_INVALID_SPEC'
  /** A `paths`/`notPaths` entry uses `{*}`/`{**}` in a way Istio rejects. */
  | 'EAUTHZ_PATH_TEMPLATE'
  /** A `when` key Istio does not define. */
  | 'EAUTHZ_CONDITION_KEY'
  /** The `istio.io/dry-run` annotation is not a boolean. */
  | 'EAUTHZ_DRY_RUN_ANNOTATION'
  /** Several policies failed; `errors` lists each. */
  | 'EAUTHZ_INVALID';

export class AuthzError extends AmbitError<AuthzErrorCode> {}

/** Every policy that failed in one compile, reported together. */
export class AuthzErrors extends AuthzError {
  readonly errors: AuthzError[];

  constructor(errors: AuthzError[]) {
    const head = errors.length === 1 ? errors[0]!.message : `${errors.length} invalid AuthorizationPolicies:\n  ${errors.map((e) => e.message).join('\n  ')}`;
    super('EAUTHZ_INVALID', head, { count: errors.length });
    this.errors = errors;
  }
}

import { AmbitError } from '../errors.js';

/**
 * Why a store role or its credentials cannot be used. Stable codes: the CLI
 * prints them and tests match them, so rename none of them.
 */
export type AccessErrorCode =
  /** A node name that cannot be an ACL user or key suffix (the SPIFFE segment rule). */
  | 'EACCESS_BAD_NODE_NAME'
  /** A credentials file that is missing, unreadable, too open, or not {username, password}. */
  | 'EACCESS_CREDENTIALS'
  /** `ambit store init` (or a node user change) ran with a Redis user that may not manage ACL users. */
  | 'EACCESS_NOT_ADMIN'
  /** Redis answered NOPERM: the role this process holds may not do what it tried. */
  | 'EACCESS_DENIED';

export class AccessError extends AmbitError<AccessErrorCode> {}

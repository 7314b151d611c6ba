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
  | 'EACCESS_DENIED'
  /** A replica of the store (or every sentinel) could not be reached before an ACL change; nothing was changed. */
  | 'EACCESS_REPLICA_UNREACHABLE'
  /** An ACL change reached some of the store's servers but not all; the message lists both. */
  | 'EACCESS_PARTIAL'
  /** The default user cannot be turned off: a replica or a sentinel still authenticates as it. */
  | 'EACCESS_DEFAULT_IN_USE';

export class AccessError extends AmbitError<AccessErrorCode> {}

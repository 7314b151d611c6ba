import { AmbitError } from '../errors.js';

/**
 * Why a VIP could not be allocated. Stable codes: the store maps them to its
 * own results and operators grep for them, so rename none of them.
 */
export type VipErrorCode =
  /** The configured range is not an IP prefix (or has host bits set). */
  | 'EVIP_INVALID_CIDR'
  /** Every usable address in the range is already taken. */
  | 'EVIP_EXHAUSTED'
  /** A new range was refused because VIPs already handed out fall outside it. */
  | 'EVIP_RANGE_IN_USE';

export class VipError extends AmbitError<VipErrorCode> {}

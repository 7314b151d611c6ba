/** Why `ambit stat` or `ambit tap` got no data: stable codes, registered in core/error-codes.ts. */
import { AmbitError } from '../../core/errors.js';

export type MonitorErrorCode =
  /** Prometheus did not answer a query, or answered with an error. */
  | 'ESTAT_PROMETHEUS'
  /** None of the metrics endpoints the store lists could be scraped. */
  | 'ESTAT_NO_SOURCE'
  /** The tap endpoint of the waypoint (or ambitd) did not answer. */
  | 'ETAP_UNREACHABLE';

export class MonitorError extends AmbitError<MonitorErrorCode> {}

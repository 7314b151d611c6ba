/**
 * One JSON line per request: the record core/telemetry/access-log-entry.ts
 * defines (also what `ambit tap` streams), to pino's `access` logger.
 */
import type { AccessLogEntry } from '../core/telemetry/access-log-entry.js';
import type { Logger } from '../core/logging.js';

export type { AccessLogEntry };

export type AccessLog = (entry: AccessLogEntry) => void;

/** The default sink: the `access` logger at info, so `AMBIT_LOG_LEVEL=warn` silences it. */
export const pinoAccessLog =
  (log: Logger): AccessLog =>
  (entry) =>
    log.info(entry, 'access');

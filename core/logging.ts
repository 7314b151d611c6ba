import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * One structured logger per process; modules take a child with their own
 * `component` so every line says where it came from. The level comes from
 * AMBIT_LOG_LEVEL (default info) and can be changed at run time by the admin API.
 */
let root: Logger | undefined;

export function rootLogger(options: LoggerOptions = {}): Logger {
  if (!root) {
    root = pino({
      level: process.env.AMBIT_LOG_LEVEL ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...options,
    });
  }
  return root;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}

export type { Logger };

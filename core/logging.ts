import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * One structured logger per process; modules take a child with their own
 * `component` so every line says where it came from. The level comes from
 * AMBIT_LOG_LEVEL (default info) and can be changed at run time by the admin API.
 */
let root: Logger | undefined;

export function rootLogger(options: LoggerOptions = {}): Logger {
  if (!root) {
    // Asynchronous writes: a proxy logging a line per connection or request must not
    // block its event loop on a full pipe (a synchronous stdout write was 17 % of the
    // waypoint's CPU under load). Lines written in the same turn go out in one write,
    // an idle process still writes each line at once, and exit flushes what is queued.
    const destination = pino.destination({ dest: 1, sync: false });
    process.once('exit', () => {
      try {
        destination.flushSync();
      } catch {
        // stdout is gone or busy: nothing more can be said.
      }
    });
    root = pino(
      {
        level: process.env.AMBIT_LOG_LEVEL ?? 'info',
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
        ...options,
      },
      destination,
    );
  }
  return root;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}

export type { Logger };

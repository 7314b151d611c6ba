/** A TCP port from the command line (`--port`, `--metrics-port`, `--daemon-port`), checked once. */
import { UsageError } from '../core/errors.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`port ${JSON.stringify(value)} must be a number from 1 to 65535`);
  return port;
}

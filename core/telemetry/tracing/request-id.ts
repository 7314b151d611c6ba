/**
 * x-request-id as Istio keeps it: forwarded unchanged when the request has
 * one, generated (a UUID v4) when it does not, so access logs of every hop can
 * be joined on it even when the trace was not sampled.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

export function ensureRequestId(headers: Record<string, string | string[] | undefined>): string {
  const present = headers[REQUEST_ID_HEADER];
  const value = typeof present === 'string' ? present : present?.[0];
  if (value !== undefined && value !== '' && value.length <= 256) return value;
  const id = randomUUID();
  headers[REQUEST_ID_HEADER] = id;
  return id;
}

/**
 * GETs on ambitd's admin API (127.0.0.1:15000 by default): JSON bodies with
 * their status, one fresh connection each (no keep-alive pool to hold the CLI
 * open), abandoned after a deadline.
 */
import { request } from 'node:http';
import { AmbitError } from '../../core/errors.js';

export interface AdminReply<T> {
  status: number;
  body: T;
}

/** Why a GET on the admin API gave no answer the doctor can use. */
export type AdminApiErrorCode =
  /** Nothing answered at the address (refused, timed out, reset). */
  | 'EADMIN_UNREACHABLE'
  /** Something answered, but not with JSON: another program on the port. */
  | 'EADMIN_BAD_REPLY';

export class AdminApiError extends AmbitError<AdminApiErrorCode> {}

export function getAdminJson<T>(host: string, port: number, path: string, timeoutMs: number): Promise<AdminReply<T>> {
  const target = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch {
          reject(
            new AdminApiError(
              'EADMIN_BAD_REPLY',
              `${target} answered HTTP ${res.statusCode} with something that is not JSON: is another program on that port?`,
              { target },
            ),
          );
        }
      });
      res.on('error', (err) => reject(new AdminApiError('EADMIN_UNREACHABLE', `${target}: ${err.message}`, { target }, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? `nothing listens on ${host}:${port}` : err.message;
      reject(new AdminApiError('EADMIN_UNREACHABLE', `${target}: ${why}`, { target, code: err.code }, { cause: err }));
    });
    req.end();
  });
}

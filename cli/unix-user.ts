/**
 * Resolves the Unix user a service runs as to its uid on this host. Outbound
 * capture matches sockets by owner uid, so the uid is what the daemon needs;
 * `id` goes through NSS, so LDAP/sssd users resolve too.
 */
import { createRequire } from 'node:module';
import { UsageError } from '../core/errors.js';

export function resolveUser(user: string): { user: string; uid: number } {
  if (/^\d+$/.test(user)) return { user, uid: Number(user) };
  try {
    // child_process is loaded here, not at start-up: it drags in net and dgram.
    const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('id', ['-u', '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { user, uid: Number(out.trim()) };
  } catch {
    throw new UsageError(`--user ${user}: no such Unix user on this host; create it (useradd --system ${user}) or pass a numeric uid`);
  }
}

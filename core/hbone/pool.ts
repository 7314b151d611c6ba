import { formatAuthority } from './authority.js';
import { PooledSession, type Peer, type SessionParams } from './session.js';

export interface PoolOptions {
  /** Streams per session before a second session to the same peer is opened. */
  maxStreamsPerSession: number;
}

/**
 * Sessions keyed by (source identity, peer address): the client certificate
 * is per source workload, so two workloads never share a connection, while
 * all connections of one workload to one node share as few as possible.
 */
export class SessionPool {
  readonly #sessions = new Map<string, PooledSession[]>();
  readonly #options: PoolOptions;
  readonly #dial: (params: Pick<SessionParams, 'source' | 'peer' | 'onClose'>) => PooledSession;
  #closedBytesRead = 0;
  #closedBytesWritten = 0;
  sessionsTotal = 0;

  constructor(options: PoolOptions, dial: (params: Pick<SessionParams, 'source' | 'peer' | 'onClose'>) => PooledSession) {
    this.#options = options;
    this.#dial = dial;
  }

  /** A session with room for one more stream, counted as taken. */
  acquire(source: string, peer: Peer): PooledSession {
    const key = `${source} ${formatAuthority(peer.host, peer.port)}`;
    let list = this.#sessions.get(key);
    if (!list) this.#sessions.set(key, (list = []));
    let session = list.find((s) => s.hasRoom(this.#options.maxStreamsPerSession));
    if (!session) {
      session = this.#dial({ source, peer, onClose: (s) => this.#evict(key, s) });
      this.sessionsTotal++;
      list.push(session);
    }
    session.take();
    return session;
  }

  /** Closes sessions (all, or those matching) once their streams are done: used after a cert rotation. */
  drain(match: (session: PooledSession) => boolean = () => true): void {
    for (const list of this.#sessions.values()) for (const s of list) if (match(s)) s.drain();
  }

  destroy(): void {
    for (const list of [...this.#sessions.values()]) for (const s of [...list]) s.destroy();
  }

  all(): PooledSession[] {
    return [...this.#sessions.values()].flat();
  }

  bytes(): { read: number; written: number } {
    let read = this.#closedBytesRead;
    let written = this.#closedBytesWritten;
    for (const s of this.all()) {
      read += s.bytesRead;
      written += s.bytesWritten;
    }
    return { read, written };
  }

  #evict(key: string, session: PooledSession): void {
    const list = this.#sessions.get(key);
    const index = list?.indexOf(session) ?? -1;
    if (!list || index === -1) return;
    list.splice(index, 1);
    if (list.length === 0) this.#sessions.delete(key);
    this.#closedBytesRead += session.bytesRead;
    this.#closedBytesWritten += session.bytesWritten;
  }
}

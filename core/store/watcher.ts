/**
 * Follows the store for a long-running consumer (ambitd, ambit-waypoint): emits one
 * full `snapshot`, then every `change` in revision order. Notifications only say "the
 * revision is now n"; the changes themselves come from the change log, so a lost
 * notification costs latency, never correctness (a periodic poll catches up).
 *
 * Whenever the log cannot prove continuity (entries trimmed, Redis restarted or
 * restored, the subscriber reconnected) the watcher reloads a full snapshot and emits
 * `snapshot` again: a resync. While Redis is down it keeps its last snapshot, so
 * consumers keep serving.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { logger } from '../logging.js';
import { createRedis } from './connection.js';
import { applyChange } from './snapshot.js';
import { withReadiness } from './waypoint-readiness.js';
import { WAYPOINT_STATE_LABEL } from './waypoints.js';
import { Store } from './store.js';
import type { Change, Snapshot, StoreOptions } from './types.js';

const log = logger('store-watcher');
const DEFAULT_POLL_MS = 5000;
const RETRY_MS = 1000;

export interface WatcherOptions extends StoreOptions {
  /** Safety net for lost notifications: look for new changes this often (default 5000; 0 disables). */
  pollIntervalMs?: number;
}

export interface WatcherEvents {
  /** A full snapshot: the first one, or a resync that replaces everything before it. */
  snapshot: [snapshot: Snapshot, info: { resync: boolean }];
  /** One change after the last snapshot, already applied to current(). */
  change: [change: Change];
  /** Lost Redis: current() stays as it is until `connected`. */
  disconnected: [];
  connected: [];
}

export interface WatcherStats {
  revision: number;
  resyncs: number;
  connected: boolean;
}

export class Watcher extends EventEmitter<WatcherEvents> {
  readonly #store: Store;
  readonly #sub: Redis;
  #snap: Snapshot | undefined;
  #resyncCount = 0;
  #connected = false;
  #closed = false;
  // The work loop: one read at a time, so changes are applied and emitted in order.
  #running = false;
  #wantResync = true;
  #wantCatchUp = false;
  #wantReadiness = false;
  readonly #poll: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  readonly #first: Promise<Snapshot>;
  #resolveFirst!: (s: Snapshot) => void;

  constructor(options: WatcherOptions = {}) {
    super();
    // A watcher serves through outages, so it never gives up on Redis.
    const opts: StoreOptions = { ...options, retryForever: true };
    this.#store = new Store(createRedis(opts, 'watcher'), opts);
    // We resubscribe ourselves on every connect, then resync, so the snapshot is read
    // only once notifications for anything after it are certain to arrive.
    this.#sub = createRedis(opts, 'watcher-sub', { autoResubscribe: false });
    this.#first = new Promise((resolve) => (this.#resolveFirst = resolve));
    this.#sub.on('ready', () => void this.#onConnect());
    this.#sub.on('close', () => this.#onDisconnect());
    this.#sub.on('message', (channel: string, message: string) => this.#onNotify(channel, message));
    this.#sub.connect().catch(() => undefined); // retries continue; events above report
    this.#store.redis.connect().catch(() => undefined);
    const every = options.pollIntervalMs ?? DEFAULT_POLL_MS;
    if (every > 0) {
      this.#poll = setInterval(() => this.#schedule('catchUp'), every);
      this.#poll.unref();
    }
  }

  /** Resolves with the first snapshot. */
  ready(): Promise<Snapshot> {
    return this.#first;
  }

  /** The last snapshot with every change since applied; undefined until the first one. Treat as read-only. */
  current(): Snapshot | undefined {
    return this.#snap;
  }

  /** How many times a full snapshot replaced the incremental stream. */
  get resyncs(): number {
    return this.#resyncCount;
  }

  stats(): WatcherStats {
    return { revision: this.#snap?.revision ?? 0, resyncs: this.#resyncCount, connected: this.#connected };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#retry);
    // disconnect, not quit: commands queued during an outage would otherwise wait forever.
    this.#sub.disconnect();
    this.#store.redis.disconnect();
  }

  async #onConnect(): Promise<void> {
    try {
      // Config changes, and nodes saying their waypoints' readiness changed.
      await this.#sub.subscribe(this.#store.keys.channel, this.#store.keys.nodeChannel);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'subscribe failed; will retry on reconnect');
      return;
    }
    const wasDown = this.#snap !== undefined;
    this.#connected = true;
    this.emit('connected');
    // Anything may have happened while we were away (even a Redis restart): start over.
    if (wasDown) log.info({ revision: this.#snap?.revision }, 'subscriber reconnected; resyncing');
    this.#schedule('resync');
  }

  #onDisconnect(): void {
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    log.warn({ revision: this.#snap?.revision }, 'lost Redis; serving the last snapshot until it is back');
    this.emit('disconnected');
  }

  #onNotify(channel: string, message: string): void {
    // A node's notice carries nothing we trust: it only makes us re-read every node's own readiness key.
    if (channel === this.#store.keys.nodeChannel) return this.#schedule('readiness');
    if (channel !== this.#store.keys.channel) return;
    let revision = Number.NaN;
    try {
      revision = Number((JSON.parse(message) as { revision?: unknown }).revision);
    } catch {
      // Not ours to understand; the change log is the truth, so just look.
    }
    // Older or equal: already seen (the snapshot read may overtake its notification).
    if (this.#snap && revision <= this.#snap.revision) return;
    this.#schedule('catchUp');
  }

  #schedule(what: 'resync' | 'catchUp' | 'readiness'): void {
    if (what === 'resync') this.#wantResync = true;
    else if (what === 'readiness') this.#wantReadiness = true;
    else this.#wantCatchUp = true;
    if (this.#running || this.#closed || !this.#connected) return;
    this.#running = true;
    void this.#drain().finally(() => {
      this.#running = false;
      if (!this.#closed && this.#connected && !this.#retry && (this.#wantResync || this.#wantCatchUp || this.#wantReadiness)) this.#schedule('catchUp');
    });
  }

  async #drain(): Promise<void> {
    while (!this.#closed && (this.#wantResync || this.#wantCatchUp || this.#wantReadiness)) {
      try {
        if (this.#wantResync || !this.#snap) {
          this.#wantResync = this.#wantCatchUp = this.#wantReadiness = false;
          await this.#resync();
        } else if (this.#wantReadiness) {
          this.#wantReadiness = false;
          await this.#refreshReadiness(this.#snap);
        } else {
          this.#wantCatchUp = false;
          await this.#catchUp(this.#snap);
        }
      } catch (err) {
        if (this.#closed) return;
        log.warn({ err: (err as Error).message }, 'reading the store failed; resyncing shortly');
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          this.#schedule('resync');
        }, RETRY_MS);
        this.#retry.unref();
        return;
      }
    }
  }

  async #resync(): Promise<void> {
    const snap = await this.#store.snapshot();
    if (this.#closed) return;
    const resync = this.#snap !== undefined;
    if (resync) this.#resyncCount++;
    this.#snap = snap;
    log.info({ revision: snap.revision, resync, resyncs: this.#resyncCount }, resync ? 'resynced from a full snapshot' : 'loaded snapshot');
    this.#safeEmit('snapshot', snap, { resync });
    this.#resolveFirst(snap);
  }

  async #catchUp(snap: Snapshot): Promise<void> {
    const changes = await this.#store.changesSince(snap.revision);
    if (this.#closed) return;
    if (!changes) {
      log.info({ revision: snap.revision }, 'change log cannot fill the gap (trimmed, or Redis went back); resyncing');
      await this.#resync();
      return;
    }
    for (const raw of changes) {
      // An operator's endpoint write says `starting`; the node's own word decides.
      const change = raw.type === 'endpoint-put' ? { ...raw, endpoint: withReadiness(raw.endpoint, snap.readyWaypoints ?? new Set()) } : raw;
      applyChange(snap, change);
      this.#safeEmit('change', change);
    }
  }

  /** Re-reads every node's readiness key; each waypoint whose state flipped is one endpoint-put. */
  async #refreshReadiness(snap: Snapshot): Promise<void> {
    const ready = await this.#store.readyWaypoints();
    if (this.#closed) return;
    snap.readyWaypoints = ready;
    for (const ep of snap.endpoints.values()) {
      const now = withReadiness(ep, ready);
      if (now === ep || now.labels[WAYPOINT_STATE_LABEL] === ep.labels[WAYPOINT_STATE_LABEL]) continue;
      const change: Change = { type: 'endpoint-put', revision: snap.revision, endpoint: now };
      applyChange(snap, change);
      this.#safeEmit('change', change);
    }
  }

  /** A consumer's exception must not stop the stream for the others. */
  #safeEmit<K extends 'snapshot' | 'change'>(event: K, ...args: WatcherEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      log.error({ err, event }, 'a watcher listener threw; continuing');
    }
  }
}

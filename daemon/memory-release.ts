/**
 * Gives memory back to the kernel once a burst of tunnels has closed and
 * ambitd has gone quiet (issue 13).
 *
 * Why: 200 streams of a dead peer that stopped reading hold ~50 MB of
 * queued Buffers and ~35 MB of OpenSSL/nghttp2 records, all malloc'd. After
 * liveness.ts destroys them, two things keep RSS near the peak (measured by
 * bench/dead-peer.ts: 135 MB 30 s after, idle 68 MB): the dead Buffers wait
 * for a GC that an idle daemon does not run, and glibc keeps every page it
 * freed (79 MB free in its arenas, in use 3.6 MB) because free chunks below
 * an arena's top are only returned by malloc_trim(). A release is one
 * memory-reducing V8 GC then malloc_trim(0): a few ms of CPU, and the next
 * burst pays page faults to get the memory again, which is why it waits for
 * a burst to be over and is rate-limited, instead of running on every close.
 *
 * - Only proxied connections count: each close is noted; a release needs at
 *   least `minClosed` closes since the last one (a few short connections
 *   never cost a GC). 16 is less than one dead peer's session of the bench
 *   (20 streams): sessions found dead by keepalive a little later than the
 *   rest must still be given back.
 * - It runs `quietMs` after the last close, so a busy daemon, whose freed
 *   memory is reused at once, never pays for it.
 * - At most once per `minIntervalMs`: a release due sooner is put off to then.
 * - A release that throws is swallowed; the timer never keeps the process alive.
 */
import type { Logger } from 'pino';
import { originalDstAddon } from '../core/net/original-dst.js';

export interface MemoryReleaseOptions {
  minClosed: number;
  quietMs: number;
  minIntervalMs: number;
}

export const DEFAULT_MEMORY_RELEASE: MemoryReleaseOptions = { minClosed: 16, quietMs: 2_000, minIntervalMs: 10_000 };

/** What the scheduler does to the world; tests pass fakes. */
export interface MemoryReleaseIo {
  now(): number;
  /** Runs `fn` after `ms` without keeping the process alive; returns a cancel. */
  later(fn: () => void, ms: number): () => void;
  /** Frees what can be freed (see processMemoryIo). */
  release(): void;
}

export class MemoryRelease {
  readonly #options: MemoryReleaseOptions;
  readonly #io: MemoryReleaseIo;
  #closed = 0;
  #lastRelease = -Infinity;
  #cancel: (() => void) | undefined;
  /** Releases run so far (for tests and /tunnels-style reporting). */
  releases = 0;

  constructor(io: MemoryReleaseIo, options: Partial<MemoryReleaseOptions> = {}) {
    this.#io = io;
    this.#options = { ...DEFAULT_MEMORY_RELEASE, ...options };
  }

  /** One proxied connection (inbound tunnel or outbound connection) closed. */
  connectionClosed(): void {
    this.#closed++;
    if (this.#closed < this.#options.minClosed) return;
    this.#cancel?.();
    const now = this.#io.now();
    const wait = Math.max(this.#options.quietMs, this.#lastRelease + this.#options.minIntervalMs - now);
    this.#cancel = this.#io.later(() => this.#run(), wait);
  }

  /** Cancels a pending release (daemon shutdown). */
  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  #run(): void {
    this.#cancel = undefined;
    this.#closed = 0;
    this.#lastRelease = this.#io.now();
    this.releases++;
    try {
      this.#io.release();
    } catch {
      // Giving memory back is an optimisation; failing to is not an error of the daemon.
    }
  }
}

/**
 * The real release, by native/memory_pressure.cc and native/malloc_trim.cc:
 * the GC first, so the dead Buffers' memory is free when malloc_trim looks.
 * An addon built before those existed, or a libc that is not glibc, makes
 * the missing step a no-op.
 */
export function processMemoryIo(log: Logger): MemoryReleaseIo {
  return {
    now: () => Date.now(),
    later: (fn, ms) => {
      const timer = setTimeout(fn, ms);
      timer.unref();
      return () => clearTimeout(timer);
    },
    release: () => {
      const addon = originalDstAddon();
      const before = process.memoryUsage.rss();
      addon.memoryPressure?.();
      addon.mallocTrim?.();
      log.debug({ rssBefore: before, rssAfter: process.memoryUsage.rss() }, 'connections closed in a burst; memory given back');
    },
  };
}

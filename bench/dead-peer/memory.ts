/**
 * Where a process's memory is, split the three ways RSS can be retained after
 * a burst (issue 13): the V8 heap (heapUsed live, heapTotal reserved),
 * memory outside it that V8 knows of (external, of which arrayBuffers are
 * Buffers), and what glibc's malloc holds (in use, or free but not given back
 * to the kernel). What none of these covers is code, thread stacks and the
 * allocator's own overhead.
 */
import v8 from 'node:v8';
import { originalDstAddon, type MallocStats } from '../../core/net/original-dst.js';

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** V8's committed physical memory for its heap: what heapTotal really costs in RSS. */
  heapPhysical: number;
  malloc: MallocStats;
}

export function memorySample(): MemorySample {
  const m = process.memoryUsage();
  let malloc: MallocStats = { available: false };
  try {
    malloc = originalDstAddon().mallocStats?.() ?? malloc;
  } catch {
    // No addon built: the breakdown goes without the allocator's share.
  }
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    heapPhysical: v8.getHeapStatistics().total_physical_size,
    malloc,
  };
}

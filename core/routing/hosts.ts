/**
 * Host lookup as Envoy's virtual-host domains work: an exact name first,
 * then the longest `*.suffix` wildcard, then `*`. Istio attaches one
 * VirtualService (and one DestinationRule) per host; when several claim the
 * same host ambit keeps the oldest, as Istio's waypoint does, and records
 * the rest so `ambit` can warn.
 */
import type { ResourceMetadata } from '../config/index.js';

export interface HostConflict {
  host: string;
  /** `namespace/name` of the resource in effect. */
  kept: string;
  ignored: string[];
}

export interface Owned<T> {
  metadata: ResourceMetadata;
  value: T;
}

export const refOf = (m: ResourceMetadata): string => `${m.namespace}/${m.name}`;

/** Oldest first (creationTimestamp, RFC 3339 sorts as text); undated last; then by namespace/name. */
export function byAge<T extends { metadata: ResourceMetadata }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => {
    const ta = a.metadata.creationTimestamp ?? '\uffff';
    const tb = b.metadata.creationTimestamp ?? '\uffff';
    if (ta !== tb) return ta < tb ? -1 : 1;
    const ra = refOf(a.metadata);
    const rb = refOf(b.metadata);
    return ra < rb ? -1 : ra > rb ? 1 : 0;
  });
}

export class HostIndex<T> {
  readonly conflicts: HostConflict[] = [];
  readonly #exact = new Map<string, T>();
  /** [".suffix", value], longest suffix first. */
  #wildcards: [string, T][] = [];
  #any: T | undefined;
  readonly #owner = new Map<string, HostConflict>();

  /** Add in priority order: the first to claim a host keeps it. */
  add(host: string, ref: string, value: T): void {
    const key = host.toLowerCase();
    const prior = this.#owner.get(key);
    if (prior) {
      if (prior.kept !== ref && !prior.ignored.includes(ref)) {
        if (prior.ignored.length === 0) this.conflicts.push(prior);
        prior.ignored.push(ref);
      }
      return;
    }
    this.#owner.set(key, { host: key, kept: ref, ignored: [] });
    if (key === '*') this.#any = value;
    else if (key.startsWith('*.')) this.#wildcards.push([key.slice(1), value]);
    else this.#exact.set(key, value);
  }

  seal(): this {
    this.#wildcards.sort((a, b) => b[0].length - a[0].length);
    return this;
  }

  exact(host: string): T | undefined {
    return this.#exact.get(host);
  }

  wildcard(host: string): T | undefined {
    for (const [suffix, v] of this.#wildcards) if (host.length > suffix.length && host.endsWith(suffix)) return v;
    return undefined;
  }

  get any(): T | undefined {
    return this.#any;
  }

  lookup(host: string): T | undefined {
    return this.exact(host) ?? this.wildcard(host) ?? this.#any;
  }
}

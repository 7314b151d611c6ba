/**
 * The applied resources of one snapshot in typed form, parsed once: every
 * consumer (policies, ServiceEntries, PeerAuthentication, the waypoint's routes)
 * reads the same typed specs instead of re-reading the stored documents, so a
 * field means one thing everywhere and no module guesses at defaults. A stored
 * resource its schema refuses (the store is not trusted) is kept out and listed
 * in `rejected`, for the proxy to log and count.
 */
import { ConfigErrors } from '../errors.js';
import { pushTo } from './group.js';
import { normalize, refKey, type ConfigKind, type Resource, type TypedResource } from '../config/index.js';

export interface RejectedResource {
  /** `Kind/namespace/name`. */
  key: string;
  reason: string;
}

export class TypedResources {
  /** The stored documents as written (for config dumps and `ambit get`). */
  readonly stored: readonly Resource[];
  readonly rejected: readonly RejectedResource[];
  readonly #byKind = new Map<string, TypedResource[]>();

  constructor(resources: Iterable<Resource>, domain: string) {
    const stored: Resource[] = [];
    const rejected: RejectedResource[] = [];
    for (const r of resources) {
      stored.push(r);
      try {
        const typed = normalize(r, { domain });
        pushTo(this.#byKind, typed.kind, typed);
      } catch (err) {
        if (!(err instanceof ConfigErrors)) throw err;
        rejected.push({ key: refKey(r), reason: err.message });
      }
    }
    this.stored = stored;
    this.rejected = rejected;
  }

  of<K extends ConfigKind>(kind: K): readonly TypedResource<K>[] {
    return (this.#byKind.get(kind) ?? []) as TypedResource<K>[];
  }
}

/**
 * Which ConnectionLimit binds a service, worked out once per snapshot: the
 * daemon asks on every inbound connection, so the answer is a map lookup.
 * Several limits naming one service: the smallest wins (the strictest reading
 * of what its owners asked for, and the same whatever order they were applied in).
 */
import type { TypedResource } from '../config/index.js';

export interface EffectiveConnectionLimit {
  /** Concurrent connections one source may hold to one workload. */
  maxPerSource: number;
  /** `namespace/name` of the ConnectionLimit that set it, for logs and metrics. */
  resource: string;
}

export class ConnectionLimits {
  readonly #byService = new Map<string, EffectiveConnectionLimit>();

  constructor(limits: readonly TypedResource<'ConnectionLimit'>[]) {
    for (const r of limits) {
      const { namespace, name } = r.metadata;
      const refs = r.spec.targetRefs ?? (r.spec.targetRef ? [r.spec.targetRef] : []);
      for (const ref of refs) {
        // The schema refuses every other kind and other namespaces.
        const key = `${namespace}/${ref.name}`;
        const held = this.#byService.get(key);
        const candidate = { maxPerSource: r.spec.maxConnectionsPerSource, resource: `${namespace}/${name}` };
        if (!held || candidate.maxPerSource < held.maxPerSource || (candidate.maxPerSource === held.maxPerSource && candidate.resource < held.resource))
          this.#byService.set(key, candidate);
      }
    }
  }

  /** The limit on the workloads of `service` (its namespace and short name), if any binds it. */
  of(service: { namespace: string; name: string }): EffectiveConnectionLimit | undefined {
    return this.#byService.get(`${service.namespace}/${service.name}`);
  }
}

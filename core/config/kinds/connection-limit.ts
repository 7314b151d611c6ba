/**
 * ConnectionLimit (ambit.dev/v1alpha1): how many connections one source may
 * hold open at once to each of a service's workloads, enforced by the ambitd
 * of the node the workload runs on (L4, before any waypoint or HTTP). A
 * source is the verified peer of an HBONE tunnel (its SPIFFE ID) or, for
 * plaintext, the client's address. Envoy's `connection_limit` filter caps a
 * listener and Consul's `MaxInboundConnections` a service instance, both for
 * everyone together; per source is what keeps one noisy caller from taking
 * every slot. It is a store resource, like RateLimit, rather than an
 * ambitd.yaml setting: the limit belongs to the service (its owner knows what
 * it can hold), changes live on every node at once and is signed in the
 * security manifest, so the store alone cannot lift it.
 */
import { int, object, req, Codes, type Cursor, type Schema } from '../schema.js';
import { onePolicyTarget, policyTargetShape, type PolicyTarget } from './common.js';

export interface ConnectionLimitSpec extends PolicyTarget {
  /** Concurrent connections one source may have open to one workload of the service; the next is refused. */
  maxConnectionsPerSource: number;
}

const SERVICE_GROUPS: readonly (string | undefined)[] = [undefined, '', 'core'];

/** Only a Service in the resource's own namespace binds (core/mesh/connection-limits.ts): anything else is refused here, not ignored later. */
function targetRequired(spec: ConnectionLimitSpec, at: Cursor): void {
  if (spec.targetRef === undefined && spec.targetRefs === undefined)
    at.fail(Codes.required, 'targetRefs is required: name the Service whose workloads the limit protects');
  if (spec.selector !== undefined) at.at('selector').fail(Codes.unsupported, 'connection limits bind to a service: use targetRefs with the Service');
  const [field, refs] = spec.targetRef !== undefined ? ['targetRef', [spec.targetRef]] : ['targetRefs', spec.targetRefs ?? []];
  refs.forEach((ref, i) => {
    const here = field === 'targetRef' ? at.at(field) : at.at(field).at(i);
    if (ref.kind !== 'Service' || !SERVICE_GROUPS.includes(ref.group))
      here.at('kind').fail(Codes.unsupported, `a connection limit binds to a Service (group ""), not ${ref.group ? `${ref.group}/` : ''}${ref.kind}`);
    if (ref.namespace !== undefined)
      here.at('namespace').fail(Codes.unsupported, 'a connection limit binds to a Service in its own namespace: leave namespace out');
  });
}

export const connectionLimitSpec = (): Schema<ConnectionLimitSpec> =>
  object<ConnectionLimitSpec>(
    { ...policyTargetShape(), maxConnectionsPerSource: req(int({ min: 1 })) },
    {
      check: (spec, at) => {
        onePolicyTarget<ConnectionLimitSpec>()(spec, at);
        targetRequired(spec, at);
      },
    },
  );

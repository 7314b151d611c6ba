/**
 * `ambit analyze`: the applied config, with the files given with -f laid over
 * it as `ambit apply` would store them, checked against the live mesh (its
 * services, endpoints, labels, waypoints and identities), as `istioctl
 * analyze` checks a cluster. Pure: the mesh and the parsed files come in,
 * sorted findings go out (most severe first), so the checks are tested
 * without a store.
 */
import type { SourcedResource } from '../../core/config/index.js';
import { refKey } from '../../core/config/resource.js';
import type { SourceLocation } from '../../core/errors.js';
import { MeshError, type MeshState, type RejectedResource } from '../../core/mesh/index.js';
import { TypedResources } from '../../core/mesh/resources.js';
import type { LiveMesh } from '../live-mesh.js';
import { SEVERITIES, type Finding } from './findings.js';
import { policyFindings } from './policy-checks.js';
import { routingFindings } from './routing-checks.js';

export interface AnalyzeInput {
  /** The store's mesh with `files` already laid over it (readLiveMesh's `extra`). */
  mesh: LiveMesh;
  files: readonly SourcedResource[];
  /** The namespace given with -n, if one was: findings are kept to it, and documents naming another are findings. */
  namespace?: string;
}

const order = (a: Finding, b: Finding): number =>
  SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) ||
  a.resource.namespace.localeCompare(b.resource.namespace) ||
  a.resource.kind.localeCompare(b.resource.kind) ||
  a.resource.name.localeCompare(b.resource.name) ||
  a.code.localeCompare(b.code) ||
  a.message.localeCompare(b.message);

/**
 * The mesh state to analyze. A stored security resource that fails its schema makes
 * MeshState refuse the snapshot (the proxies keep their previous one); analyze
 * reports those resources and goes on without them.
 */
function stateOf(mesh: LiveMesh): { state: MeshState; refused: RejectedResource[] } {
  const node = mesh.nodes[0]?.name ?? '';
  try {
    return { state: mesh.stateFor(node), refused: [] };
  } catch (err) {
    if (!(err instanceof MeshError) || err.code !== 'EMESH_POLICY_INVALID') throw err;
    const keys = err.context.resources as string[];
    const refused = keys.flatMap((key) => {
      const r = mesh.snapshot.resources.get(key);
      return r ? new TypedResources([r], mesh.domain).rejected : [];
    });
    return { state: mesh.without(keys).stateFor(node), refused };
  }
}

export function analyze(input: AnalyzeInput): Finding[] {
  const { mesh, files, namespace } = input;
  const located = new Map<string, SourceLocation>(files.map((f) => [refKey(f.resource), f.location]));
  const found = new Map<string, Finding>();
  const report = (f: Finding): void => {
    const location = located.get(`${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`);
    const finding = location ? { ...f, location } : f;
    found.set(`${f.code} ${f.resource.kind}/${f.resource.namespace}/${f.resource.name} ${f.message}`, finding);
  };
  if (namespace !== undefined) {
    for (const { resource: r, location } of files) {
      if (r.metadata.namespace === namespace) continue;
      found.set(`ns ${refKey(r)}`, {
        code: 'EANALYZE_NAMESPACE_MISMATCH',
        severity: 'Error',
        resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
        location,
        message: `the document names namespace ${r.metadata.namespace}, but -n ${namespace} was given`,
        fix: `drop metadata.namespace from the document, or run with -n ${r.metadata.namespace}`,
      });
    }
  }
  const { state, refused } = stateOf(mesh);
  for (const r of [...refused, ...state.rejected]) {
    const [kind = '', ns = '', name = ''] = r.key.split('/');
    report({
      code: 'EANALYZE_INVALID_STORED',
      severity: 'Error',
      resource: { kind, namespace: ns, name },
      message: refused.includes(r)
        ? `a security resource that fails validation: every ambitd and waypoint refuses the whole snapshot and keeps serving its previous one (${r.reason})`
        : `fails validation, so the proxies leave it out: ${r.reason}`,
      fix: 'apply a corrected version with ambit apply -f, or delete it',
    });
  }
  routingFindings(state, mesh.domain, report);
  policyFindings(state, mesh.trustDomain, mesh.domain, report);
  const all = [...found.values()];
  return (namespace === undefined ? all : all.filter((f) => f.resource.namespace === namespace || f.code === 'EANALYZE_NAMESPACE_MISMATCH')).sort(order);
}

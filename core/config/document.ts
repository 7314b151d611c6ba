/**
 * One YAML document to one resource: checks the envelope (apiVersion, kind,
 * metadata, spec) and the spec against its kind's schema. The stored form
 * keeps the spec exactly as written so `ambit get -o yaml` shows the user's
 * document; the typed form (hosts resolved, durations in ms) comes from the
 * same schema via `typedSpec`.
 */
import { kindDefinition, KINDS, type ConfigKind, type KindDefinition, type SpecByKind } from './kinds/index.js';
import { metadataSchema } from './metadata.js';
import { DEFAULT_MESH_DOMAIN, DEFAULT_NAMESPACE, type Resource } from './resource.js';
import { Codes, Cursor, describe, isMapping, type Issue, type ParseContext } from './schema.js';

export const DocumentCodes = {
  kind: 'ECONFIG_KIND',
  apiVersion: 'ECONFIG_API_VERSION',
} as const;

const ENVELOPE = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

/** `Kind namespace/name` for messages, from whatever the document says. */
export function resourceLabel(raw: unknown, defaultNamespace: string = DEFAULT_NAMESPACE): string {
  const doc = isMapping(raw) ? raw : {};
  const meta = isMapping(doc.metadata) ? doc.metadata : {};
  const text = (v: unknown, fallback: string) => (typeof v === 'string' && v ? v : fallback);
  return `${text(doc.kind, '<no kind>')} ${text(meta.namespace, defaultNamespace)}/${text(meta.name, '<no name>')}`;
}

function checkApiVersion(apiVersion: unknown, def: KindDefinition, at: Cursor): void {
  if (typeof apiVersion !== 'string') {
    if (apiVersion === undefined || apiVersion === null) at.fail(Codes.required, 'is required');
    else at.fail(Codes.type, `must be a string, not ${describe(apiVersion)}`);
    return;
  }
  const [group, version, ...rest] = apiVersion.split('/');
  if (group === def.group && version && def.versions.includes(version) && rest.length === 0) return;
  const expected = def.versions.map((v) => `${def.group}/${v}`).join(', ');
  at.fail(DocumentCodes.apiVersion, `${apiVersion} is not an apiVersion of ${def.kind} (use one of ${expected})`);
}

function definitionOf(kind: unknown, at: Cursor): KindDefinition | undefined {
  if (kind === undefined || kind === null) return at.fail(Codes.required, 'is required');
  if (typeof kind !== 'string') return at.fail(Codes.type, `must be a string, not ${describe(kind)}`);
  return kindDefinition(kind) ?? at.fail(DocumentCodes.kind, `kind ${kind} is not supported by ambit (supported: ${Object.keys(KINDS).join(', ')})`);
}

/** The typed spec, or undefined with the problems added to `issues`. */
export function typedSpec<K extends ConfigKind>(def: KindDefinition<K>, spec: unknown, ctx: ParseContext, issues: Issue[]): SpecByKind[K] | undefined {
  return def.spec.parse(spec ?? {}, new Cursor(['spec'], ctx, issues));
}

export interface DocumentOptions {
  defaultNamespace?: string;
  domain?: string;
}

/** The stored form of one document, or undefined with the problems added to `issues`. */
export function validateDocument(raw: unknown, issues: Issue[], opts: DocumentOptions = {}): Resource | undefined {
  const defaultNamespace = opts.defaultNamespace ?? DEFAULT_NAMESPACE;
  const root = new Cursor([], { namespace: defaultNamespace, domain: opts.domain ?? DEFAULT_MESH_DOMAIN }, issues);
  if (!isMapping(raw)) return root.fail(Codes.type, `a document must be a mapping with apiVersion, kind, metadata and spec, not ${describe(raw)}`);
  const before = issues.length;
  for (const key of Object.keys(raw)) {
    if (!ENVELOPE.has(key)) root.at(key).fail(Codes.unsupported, `field ${key} is not supported by ambit (a document has apiVersion, kind, metadata and spec)`);
  }
  const def = definitionOf(raw.kind, root.at('kind'));
  if (def) checkApiVersion(raw.apiVersion, def, root.at('apiVersion'));
  const metadata =
    raw.metadata === undefined || raw.metadata === null
      ? root.at('metadata').fail(Codes.required, 'is required')
      : metadataSchema(defaultNamespace).parse(raw.metadata, root.at('metadata'));
  if (def) {
    const namespace = metadata?.namespace ?? defaultNamespace;
    typedSpec(def, raw.spec, { ...root.ctx, namespace }, issues);
  }
  if (issues.length > before || !metadata || typeof raw.apiVersion !== 'string' || typeof raw.kind !== 'string') return undefined;
  // `status` is what a cluster reports, never configuration: dropped.
  return { apiVersion: raw.apiVersion, kind: raw.kind, metadata, spec: isMapping(raw.spec) ? raw.spec : {} };
}

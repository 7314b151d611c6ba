/**
 * kubectl's List: `{apiVersion: v1, kind: List, items: [...]}`, what `ambit get
 * KIND -o json|yaml` prints for several resources (as `kubectl get` does).
 * `ambit apply -f` unwraps it, so that a get piped into apply round-trips; each
 * item is then a document of its own, validated and located like one.
 */
import type { Path } from './path.js';
import type { Issue } from './schema.js';

export interface ListItem {
  value: unknown;
  /** Where the item sits in its YAML document, for line numbers: [] for a plain document. */
  path: Path;
}

/** The documents in one YAML document: its items when it is a List, else itself. */
export function documentItems(raw: unknown, issues: Issue[]): ListItem[] {
  if (!isList(raw)) return [{ value: raw, path: [] }];
  const list = raw as Record<string, unknown>;
  if (list.apiVersion !== 'v1') issues.push({ path: ['apiVersion'], code: 'ECONFIG_API_VERSION', detail: 'a List is apiVersion: v1' });
  for (const key of Object.keys(list)) {
    if (!['apiVersion', 'kind', 'items', 'metadata'].includes(key))
      issues.push({ path: [key], code: 'ECONFIG_UNSUPPORTED', detail: 'a List has only apiVersion, kind, metadata and items' });
  }
  if (!Array.isArray(list.items)) {
    issues.push({ path: ['items'], code: 'ECONFIG_TYPE', detail: 'a List needs items: a list of resources' });
    return [];
  }
  return (list.items as unknown[]).map((value, i) => ({ value, path: ['items', i] }));
}

function isList(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && (raw as { kind?: unknown }).kind === 'List';
}

/**
 * Query names as the mesh matches them. DNS names are case-insensitive and
 * may arrive fully qualified ("reviews.default.svc.cluster.local."), so both
 * are normalised away before lookup; the answer still echoes the name as asked.
 */

/** Lower-case, without the trailing root dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** True when `name` is `zone` or below it (both normalised). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * The names to look up for a query, most specific first: the name itself,
 * then the Kubernetes short forms a user types, expanded against the mesh
 * domain: `<svc>.<ns>.svc` and `<svc>.<ns>`. A one-label name needs the
 * client's namespace, which the DNS server does not know, so it is left to
 * the host's search list.
 */
export function candidateNames(name: string, domain: string): string[] {
  const labels = name.split('.');
  if (inZone(name, domain)) return [name];
  if (labels.length === 3 && labels[2] === 'svc') return [name, `${name}.${domain}`];
  if (labels.length === 2) return [name, `${name}.svc.${domain}`];
  return [name];
}

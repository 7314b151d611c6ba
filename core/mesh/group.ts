/**
 * Appends to a list in a map of lists. The indexes are rebuilt for every
 * snapshot, so copying a list on each append (quadratic in a service's
 * endpoints or in the resources of one kind) would be paid on every change.
 */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

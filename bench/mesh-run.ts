/**
 * When a bench path fails, the daemons usually said why: their last
 * warnings and errors, per host, for the bench's error output.
 */
import type { Mesh } from '../test/helpers/mesh.js';

export function daemonTrouble(mesh: Mesh): string {
  return [...mesh.daemons.keys()]
    .flatMap((host) => mesh.logs(host).split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-5).map((l) => `${host}: ${l}`))
    .join('\n');
}

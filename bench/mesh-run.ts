/**
 * The life of a bench's netns mesh around its measurements: when a path
 * fails, the daemons usually said why (their last warnings and errors, per
 * host); whatever happens, the mesh and the bench's scratch folder go away.
 */
import { rm } from 'node:fs/promises';
import type { Mesh } from '../test/helpers/mesh.js';

export function daemonTrouble(mesh: Mesh): string {
  return [...mesh.daemons.keys()]
    .flatMap((host) =>
      mesh
        .logs(host)
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l))
        .slice(-5)
        .map((l) => `${host}: ${l}`),
    )
    .join('\n');
}

/** Runs `work` on the mesh, printing the daemons' complaints if it throws, then destroys the mesh and removes `dir`. */
export async function onMesh<T>(mesh: Mesh, dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const trouble = daemonTrouble(mesh);
    if (trouble) console.error(`ambitd warnings:\n${trouble}`);
    throw err;
  } finally {
    await mesh.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

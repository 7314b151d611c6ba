/**
 * The client half of VIP allocation (the Lua half is vip-scripts.ts): read which VIPs are
 * taken, let the pure allocator (core/vip) pick one, and let a script claim it atomically,
 * reading again and retrying when another writer was faster. Also the mesh's VIP range.
 */
import type { Redis } from 'ioredis';
import { StoreError } from '../errors.js';
import { allocateVip, DEFAULT_VIP_CIDR, inRange, parseCidr, VipError, vipKey, type ServiceKey } from '../vip/allocator.js';
import type { Keys } from './keys.js';
import type { ScriptRunner } from './scripts.js';
import type { MeshSettings } from './types.js';

/**
 * A retry means another writer claimed our candidate or changed the range between our read
 * and our claim. Each one re-reads, so a handful only fails under a pathological storm.
 */
const MAX_ATTEMPTS = 10;

/** What a claiming script is told: a candidate VIP and the range it was picked from. */
export interface VipCandidate {
  vip: string;
  cidr: string;
}

/** No candidate: the script succeeds only if the owner already holds a VIP. */
const LOOKUP_ONLY: VipCandidate = { vip: '', cidr: '' };

/**
 * Runs `attempt` (a script call built on vip_plan) until it stops answering
 * { 'retry', reason }, and returns its reply. The first try sends no candidate, so an
 * owner that already holds a VIP (every re-enroll) costs one round trip and no read of the
 * whole VIP table. Throws VipError EVIP_EXHAUSTED when the range is full; nothing is written.
 */
export async function withVipClaim(redis: Redis, keys: Keys, owner: ServiceKey, attempt: (candidate: VipCandidate) => Promise<unknown>): Promise<unknown[]> {
  let candidate = LOOKUP_ONLY;
  let reason = '';
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const reply = (await attempt(candidate)) as unknown[];
    if (reply[0] !== 'retry') return reply;
    reason = String(reply[1]);
    const { vipCidr, vips } = await readVips(redis, keys);
    candidate = { vip: allocateVip(owner, Object.keys(vips), vipCidr), cidr: vipCidr };
  }
  throw conflict(`claim a VIP for ${vipKey(owner)}`, reason);
}

export async function readMeshSettings(redis: Redis, keys: Keys): Promise<MeshSettings> {
  return { vipCidr: (await redis.hget(keys.mesh, 'vipCidr')) ?? DEFAULT_VIP_CIDR };
}

/**
 * Sets the mesh's VIP range (normalised, e.g. "10.1.0.0/16"). Refuses with VipError
 * EVIP_RANGE_IN_USE when VIPs already handed out fall outside it: moving live VIPs would
 * break connections and DNS caches, so the operator has to free them first.
 */
export async function writeMeshSettings(redis: Redis, keys: Keys, setMesh: ScriptRunner, settings: MeshSettings): Promise<MeshSettings> {
  const range = parseCidr(settings.vipCidr);
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const { vips, epoch } = await readVips(redis, keys);
    const outside = Object.entries(vips).filter(([vip]) => !inRange(vip, range));
    if (outside.length > 0) {
      const some = outside
        .slice(0, 3)
        .map(([vip, owner]) => `${vip} (${owner})`)
        .join(', ');
      const more = outside.length > 3 ? ` and ${outside.length - 3} more` : '';
      throw new VipError(
        'EVIP_RANGE_IN_USE',
        `cannot change the VIP range to ${range.cidr}: ${outside.length} allocated VIP(s) fall outside it: ${some}${more}; ` +
          'unenroll those services first or choose a range that contains them',
        { cidr: range.cidr, outside: outside.length },
      );
    }
    const reply = (await setMesh([keys.mesh, keys.vipEpoch], [range.cidr, epoch])) as unknown[];
    if (reply[0] !== 'retry') return { vipCidr: range.cidr };
  }
  throw conflict(`change the VIP range to ${range.cidr}`, 'vips-changed');
}

/** The range, every claimed VIP with its owner, and the claim epoch, as of one moment. */
async function readVips(redis: Redis, keys: Keys): Promise<{ vipCidr: string; vips: Record<string, string>; epoch: string }> {
  const replies = (await redis.multi().hget(keys.mesh, 'vipCidr').hgetall(keys.vips).get(keys.vipEpoch).exec()) ?? [];
  const [cidr, vips, epoch] = replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  return { vipCidr: (cidr as string | null) ?? DEFAULT_VIP_CIDR, vips: (vips as Record<string, string>) ?? {}, epoch: (epoch as string | null) ?? '0' };
}

function conflict(what: string, reason: string): StoreError {
  return new StoreError('ESTORE_CONFLICT', `could not ${what} in ${MAX_ATTEMPTS} attempts (last: ${reason}): other writers kept changing the VIPs; try again`, {
    reason,
  });
}

/**
 * VIP bookkeeping in Lua, shared by the enroll and unenroll scripts and used alone by
 * store.allocateVip and store.setMeshSettings.
 *
 * Lua cannot do CIDR arithmetic for IPv6, so the client picks a candidate with the pure
 * allocator (core/vip) from the VIPs it read, and the script only claims it if it is still
 * free and the range it was computed for is still the mesh's range. If not, the script
 * writes nothing and answers { 'retry', reason }; the client reads again and retries
 * (core/store/vips.ts). An owner that already holds a VIP keeps it whatever the candidate.
 *
 * Two hashes hold the claims, one per direction: `vips` (VIP -> owner, to find free
 * addresses) and `vip-owners` (owner -> VIP, so a VIP survives re-enrolls and can be held
 * by names that are not enrolled services, such as ServiceEntry hosts). `vip-epoch` counts
 * claims and releases so a range change can prove no VIP appeared while it checked.
 */

/**
 * vip_plan is phase 1 (reads only): the VIP `owner` will hold, or nil and a retry reason.
 * vip_claim and vip_release are phase 2 (writes only, cannot fail on input).
 */
export const VIP_LUA = `
local function vip_plan(vips, owners, mesh, owner, candidate, cidr, default_cidr)
  local held = redis.call('HGET', owners, owner)
  if held then return held end
  if candidate == '' then return nil, 'need-vip' end
  if (redis.call('HGET', mesh, 'vipCidr') or default_cidr) ~= cidr then return nil, 'range-changed' end
  local holder = redis.call('HGET', vips, candidate)
  if holder and holder ~= owner then return nil, 'taken' end
  return candidate
end
local function vip_claim(vips, owners, epoch, owner, vip)
  if redis.call('HGET', owners, owner) == vip and redis.call('HGET', vips, vip) == owner then return end
  redis.call('HSET', vips, vip, owner)
  redis.call('HSET', owners, owner, vip)
  redis.call('INCR', epoch)
end
local function vip_release(vips, owners, epoch, owner)
  local vip = redis.call('HGET', owners, owner)
  if not vip then return end
  if redis.call('HGET', vips, vip) == owner then redis.call('HDEL', vips, vip) end
  redis.call('HDEL', owners, owner)
  redis.call('INCR', epoch)
end
`;

/**
 * Claims a VIP for a name without touching the service registry (no revision bump: the
 * resource that needs the VIP, e.g. a ServiceEntry, carries it to watchers).
 *
 * KEYS: vips, vip-owners, vip-epoch, mesh
 * ARGV: owner, candidate ('' = only look up), cidr, defaultCidr
 * Returns: { 'ok', vip } or { 'retry', reason }
 */
export const CLAIM_VIP_LUA = `${VIP_LUA}
local vip, why = vip_plan(KEYS[1], KEYS[2], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if not vip then return { 'retry', why } end
vip_claim(KEYS[1], KEYS[2], KEYS[3], ARGV[1], vip)
return { 'ok', vip }
`;

/**
 * Changes the mesh's VIP range, but only if no VIP was claimed or released since the client
 * checked that every allocated VIP fits the new range.
 *
 * KEYS: mesh, vip-epoch
 * ARGV: vipCidr, epoch the client read
 * Returns: { 'ok' } or { 'retry', 'vips-changed' }
 */
export const SET_MESH_LUA = `
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return { 'retry', 'vips-changed' } end
redis.call('HSET', KEYS[1], 'vipCidr', ARGV[1])
return { 'ok' }
`;

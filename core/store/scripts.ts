/**
 * The store's write paths as Lua scripts. A script runs atomically in Redis, so a
 * batch gets exactly one revision and readers never see half of it. Redis does NOT
 * roll back a script that fails halfway, so every script is written in two phases:
 * phase 1 reads and validates everything and may return an error; phase 2 only
 * writes, with nothing left that can fail on bad input. That is what makes apply and
 * delete all-or-nothing.
 *
 * Change-log entries get explicit stream ids `<revision>-<n>`: a watcher at revision r
 * reads XRANGE from `<r+1>-0`, and a missing `-0` entry proves the log was trimmed.
 *
 * Documents are never decoded in Lua (cjson turns [] into {}); they are compared and
 * stored as strings, with digests computed by the client.
 */
import type { Redis } from 'ioredis';
import { CLAIM_VIP_LUA, SET_MESH_LUA, VIP_LUA } from './vip-scripts.js';

/** Shared tail: append one change entry and return the next sequence number. */
const LOG_CHANGE = `
local function log_change(stream, maxlen, rev, seq, ...)
  redis.call('XADD', stream, 'MAXLEN', maxlen, rev .. '-' .. seq, ...)
  return seq + 1
end
`;

/**
 * The signed security manifest travels with the change it covers: phase 1
 * checks the stored sequence is the one the operator signed against (else
 * ESTORE_CONFLICT: another operator got there first, re-read and re-sign),
 * phase 2 stores it and logs it as a change. An empty record means "this
 * write touches nothing the manifest covers".
 */
const MANIFEST = `
local function manifest_ok(key, expect, record)
  if record == '' then return true end
  return tostring(tonumber(redis.call('HGET', key, 'sequence') or '0')) == expect
end
local function manifest_put(key, sequence, record, stream, maxlen, rev, seq)
  if record == '' then return seq end
  redis.call('HSET', key, 'record', record, 'sequence', sequence)
  return log_change(stream, maxlen, rev, seq, 't', 'manifest-put', 'k', 'manifest', 'd', record)
end
local MANIFEST_CONFLICT = 'ESTORE_CONFLICT the security manifest changed since it was read (another operator wrote); run the command again'
`;

/**
 * KEYS: revision, resources, resource-meta, changes, manifest
 * ARGV: channel, maxlen, now, count, then per document: key, doc, contentDigest, generationDigest, uid
 * (the uid is used only when the document is created), then manifest expect, sequence, record
 * Returns: { revision, action1, action2, ... }
 */
export const APPLY_LUA = `${LOG_CHANGE}${MANIFEST}
local n = tonumber(ARGV[4])
if not n or #ARGV ~= 4 + 5 * n + 3 then
  return redis.error_reply('ESTORE_INVALID apply: expected ' .. tostring(n) .. ' documents')
end
local mb = 5 + 5 * n
if not manifest_ok(KEYS[5], ARGV[mb], ARGV[mb + 2]) then return redis.error_reply(MANIFEST_CONFLICT) end
local plan, seen, changed = {}, {}, false
for i = 1, n do
  local b = 5 * i
  local key, doc, content, gen, uid = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  if not string.match(key, '^[^/]+/[^/]+/[^/]+$') then
    return redis.error_reply('ESTORE_INVALID apply: malformed resource key "' .. key .. '"')
  end
  if string.sub(doc, 1, 1) ~= '{' or content == '' or gen == '' then
    return redis.error_reply('ESTORE_INVALID apply: ' .. key .. ': document is not a JSON object')
  end
  if seen[key] then
    return redis.error_reply('ESTORE_INVALID apply: ' .. key .. ' appears twice in one batch')
  end
  seen[key] = true
  local raw = redis.call('HGET', KEYS[3], key)
  local meta, action
  if not raw then
    action = 'created'
    meta = { generation = 1, creationTimestamp = ARGV[3], uid = uid, content = content, gen = gen }
  else
    meta = cjson.decode(raw)
    if meta.content == content then
      action = 'unchanged'
    else
      action = 'configured'
      if meta.gen ~= gen then meta.generation = meta.generation + 1 end
      meta.content, meta.gen = content, gen
    end
  end
  if action ~= 'unchanged' then changed = true end
  plan[i] = { key = key, doc = doc, meta = meta, action = action }
end
if ARGV[mb + 2] ~= '' then changed = true end

local out = {}
if not changed then
  out[1] = tonumber(redis.call('GET', KEYS[1]) or '0')
else
  local rev = redis.call('INCR', KEYS[1])
  out[1] = rev
  local seq = 0
  for i = 1, n do
    local p = plan[i]
    if p.action ~= 'unchanged' then
      p.meta.resourceVersion = tostring(rev)
      local m = cjson.encode(p.meta)
      redis.call('HSET', KEYS[2], p.key, p.doc)
      redis.call('HSET', KEYS[3], p.key, m)
      seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'resource-put', 'k', p.key, 'd', p.doc, 'm', m)
    end
  end
  seq = manifest_put(KEYS[5], ARGV[mb + 1], ARGV[mb + 2], KEYS[4], ARGV[2], rev, seq)
  redis.call('PUBLISH', ARGV[1], '{"revision":' .. rev .. '}')
end
for i = 1, n do out[i + 1] = plan[i].action end
return out
`;

/**
 * KEYS: revision, resources, resource-meta, changes, manifest
 * ARGV: channel, maxlen, ignoreMissing ('1' | '0'), manifest expect, sequence, record, key...
 * Returns: { 0, missingKey } or { 1, revision, deletedKey... }
 */
export const DELETE_LUA = `${LOG_CHANGE}${MANIFEST}
if not manifest_ok(KEYS[5], ARGV[4], ARGV[6]) then return redis.error_reply(MANIFEST_CONFLICT) end
local doomed, seen = {}, {}
for i = 7, #ARGV do
  local key = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], key) == 1 then
    if not seen[key] then seen[key] = true; doomed[#doomed + 1] = key end
  elseif ARGV[3] ~= '1' then
    return { 0, key }
  end
end
if #doomed == 0 and ARGV[6] == '' then return { 1, tonumber(redis.call('GET', KEYS[1]) or '0') } end
local rev = redis.call('INCR', KEYS[1])
local seq = 0
for _, key in ipairs(doomed) do
  redis.call('HDEL', KEYS[2], key)
  redis.call('HDEL', KEYS[3], key)
  seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'resource-delete', 'k', key)
end
seq = manifest_put(KEYS[5], ARGV[5], ARGV[6], KEYS[4], ARGV[2], rev, seq)
redis.call('PUBLISH', ARGV[1], '{"revision":' .. rev .. '}')
local out = { 1, rev }
for _, key in ipairs(doomed) do out[#out + 1] = key end
return out
`;

/**
 * The service record is small and store-owned (no user-written empty arrays), so it is
 * safe to decode here; decoding keeps fields set by others (labels) intact. Its `vip` is
 * a copy of the owner's claim in vip-owners, which is the truth (see vip-scripts.ts).
 *
 * KEYS: revision, services, endpoints, changes, service-endpoints set, vips, vip-owners, vip-epoch, mesh, manifest
 * ARGV: channel, maxlen, serviceKey, endpointKey, endpointJson, port, name, namespace,
 *       candidateVip ('' = the service should already hold one), cidr, defaultCidr,
 *       manifest expect, sequence, record
 * Returns: { revision, action, vip } or { 'retry', reason } (nothing written)
 */
export const ENROLL_LUA = `${LOG_CHANGE}${VIP_LUA}${MANIFEST}
if not manifest_ok(KEYS[10], ARGV[12], ARGV[14]) then return redis.error_reply(MANIFEST_CONFLICT) end
local port = tonumber(ARGV[6])
local vip, why = vip_plan(KEYS[6], KEYS[7], KEYS[9], ARGV[3], ARGV[9], ARGV[10], ARGV[11])
if not vip then return { 'retry', why } end
local old = redis.call('HGET', KEYS[3], ARGV[4])
local raw = redis.call('HGET', KEYS[2], ARGV[3])
local svc
if raw then svc = cjson.decode(raw) else svc = { name = ARGV[7], namespace = ARGV[8], ports = {} } end
local has = false
for _, p in ipairs(svc.ports) do if p == port then has = true end end
local svcChanged = (not raw) or (not has) or svc.vip ~= vip
local epChanged = old ~= ARGV[5]
if not svcChanged and not epChanged and ARGV[14] == '' then
  return { tonumber(redis.call('GET', KEYS[1]) or '0'), 'unchanged', vip }
end
local rev = redis.call('INCR', KEYS[1])
local seq = 0
if svcChanged then
  vip_claim(KEYS[6], KEYS[7], KEYS[8], ARGV[3], vip)
  svc.vip = vip
  if not has then table.insert(svc.ports, port); table.sort(svc.ports) end
  local s = cjson.encode(svc)
  redis.call('HSET', KEYS[2], ARGV[3], s)
  seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'service-put', 'k', ARGV[3], 'd', s)
end
if epChanged then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  redis.call('SADD', KEYS[5], ARGV[4])
  seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'endpoint-put', 'k', ARGV[4], 'd', ARGV[5])
end
seq = manifest_put(KEYS[10], ARGV[13], ARGV[14], KEYS[4], ARGV[2], rev, seq)
redis.call('PUBLISH', ARGV[1], '{"revision":' .. rev .. '}')
if old then return { rev, 'configured', vip } end
return { rev, 'created', vip }
`;

/**
 * Endpoint keys are `namespace/service/node/address:port`, so filters match on the key
 * alone, and the remaining ports are recomputed from the keys without decoding.
 *
 * The service's VIP is released with the service, so a range can shrink and a busy range
 * does not fill with the dead; the allocator's hash preference gives it back the same
 * address when it returns, unless another service took it meanwhile.
 *
 * KEYS: revision, services, endpoints, changes, service-endpoints set, vips, vip-owners, vip-epoch, manifest
 * ARGV: channel, maxlen, serviceKey, node, address, port ('' matches any), manifest expect, sequence, record
 * Returns: { revision, removedCount, serviceDeleted (0|1) }
 */
export const UNENROLL_LUA = `${LOG_CHANGE}${VIP_LUA}${MANIFEST}
if not manifest_ok(KEYS[9], ARGV[7], ARGV[9]) then return redis.error_reply(MANIFEST_CONFLICT) end
local function parse(k)
  return string.match(k, '^[^/]+/[^/]+/([^/]+)/(.+):(%d+)$')
end
local doomed = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  local node, addr, port = parse(k)
  if (ARGV[4] == '' or ARGV[4] == node) and (ARGV[5] == '' or ARGV[5] == addr) and (ARGV[6] == '' or ARGV[6] == port) then
    doomed[#doomed + 1] = k
  end
end
if #doomed == 0 and ARGV[9] == '' then return { tonumber(redis.call('GET', KEYS[1]) or '0'), 0, 0 } end
table.sort(doomed)
local rev = redis.call('INCR', KEYS[1])
local seq = manifest_put(KEYS[9], ARGV[8], ARGV[9], KEYS[4], ARGV[2], rev, 0)
if #doomed == 0 then
  redis.call('PUBLISH', ARGV[1], '{"revision":' .. rev .. '}')
  return { rev, 0, 0 }
end
for _, k in ipairs(doomed) do
  local ep = redis.call('HGET', KEYS[3], k)
  redis.call('HDEL', KEYS[3], k)
  redis.call('SREM', KEYS[5], k)
  seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'endpoint-delete', 'k', k, 'd', ep or '{}')
end
local left = redis.call('SMEMBERS', KEYS[5])
local deleted = 0
if #left == 0 then
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[5])
  vip_release(KEYS[6], KEYS[7], KEYS[8], ARGV[3])
  seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'service-delete', 'k', ARGV[3])
  deleted = 1
else
  local set, ports = {}, {}
  for _, k in ipairs(left) do
    local _, _, p = parse(k)
    p = tonumber(p)
    if not set[p] then set[p] = true; ports[#ports + 1] = p end
  end
  table.sort(ports)
  local raw = redis.call('HGET', KEYS[2], ARGV[3])
  if raw then
    local svc = cjson.decode(raw)
    if table.concat(svc.ports, ',') ~= table.concat(ports, ',') then
      svc.ports = ports
      local s = cjson.encode(svc)
      redis.call('HSET', KEYS[2], ARGV[3], s)
      seq = log_change(KEYS[4], ARGV[2], rev, seq, 't', 'service-put', 'k', ARGV[3], 'd', s)
    end
  end
end
redis.call('PUBLISH', ARGV[1], '{"revision":' .. rev .. '}')
return { rev, #doomed, deleted }
`;

type Arg = string | number;
export type ScriptRunner = (keys: string[], args: Arg[]) => Promise<unknown>;

export interface Scripts {
  apply: ScriptRunner;
  delete: ScriptRunner;
  enroll: ScriptRunner;
  unenroll: ScriptRunner;
  claimVip: ScriptRunner;
  setMesh: ScriptRunner;
}

/**
 * Registers the scripts on a client; ioredis then sends EVALSHA and falls back to
 * EVAL once per connection, so the script text is not resent on every write.
 */
export function defineScripts(client: Redis): Scripts {
  const define = (name: string, lua: string): ScriptRunner => {
    client.defineCommand(name, { lua });
    const fn = (client as unknown as Record<string, (n: number, keys: string[], args: Arg[]) => Promise<unknown>>)[name]!;
    // Arrays, not spread: ioredis flattens a command's arguments one level,
    // and an apply of thousands of documents has more arguments than a JavaScript call may.
    return (keys, args) => fn.call(client, keys.length, keys, args);
  };
  return {
    apply: define('ambitApply', APPLY_LUA),
    delete: define('ambitDelete', DELETE_LUA),
    enroll: define('ambitEnroll', ENROLL_LUA),
    unenroll: define('ambitUnenroll', UNENROLL_LUA),
    claimVip: define('ambitClaimVip', CLAIM_VIP_LUA),
    setMesh: define('ambitSetMesh', SET_MESH_LUA),
  };
}

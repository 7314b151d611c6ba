/**
 * VIP allocation as pure functions. The store calls `allocateVip` inside its
 * atomic update with the VIPs already handed out; nothing here does I/O.
 *
 * A service's first choice is a hash of `namespace/name` into the range, so the
 * same service gets the same VIP after the store is wiped and rebuilt (and two
 * meshes with the same services agree), which keeps DNS caches and logs stable.
 * On collision we probe linearly, wrapping at the end of the range.
 */
import { createHash } from 'node:crypto';
import { addressToBigInt, fromBigInt, parseCidr, type CidrRange } from './cidr.js';
import { VipError } from './errors.js';

export { parseCidr, type CidrRange } from './cidr.js';
export { VipError, type VipErrorCode } from './errors.js';

/** Class E space: never routed on the Internet, so it cannot shadow a real destination. */
export const DEFAULT_VIP_CIDR = '240.240.0.0/16';

export interface ServiceKey {
  namespace: string;
  name: string;
}

/** The string that is hashed; exported so the store can key its VIP index the same way. */
export function vipKey(service: ServiceKey): string {
  return `${service.namespace}/${service.name}`;
}

/** Where probing starts for a service: sha256 is stable across Node versions and processes. */
export function preferredVip(service: ServiceKey, range: CidrRange | string = DEFAULT_VIP_CIDR): string {
  const r = typeof range === 'string' ? parseCidr(range) : range;
  return fromBigInt(r.first + preferredOffset(service, r), r.family);
}

function preferredOffset(service: ServiceKey, range: CidrRange): bigint {
  const digest = createHash('sha256').update(vipKey(service)).digest();
  // 128 bits of hash keep the modulo bias negligible even for an IPv6 /64.
  return BigInt(`0x${digest.subarray(0, 16).toString('hex')}`) % range.size;
}

/** True when `vip` is an address this range could have handed out. */
export function inRange(vip: string, range: CidrRange | string = DEFAULT_VIP_CIDR): boolean {
  const r = typeof range === 'string' ? parseCidr(range) : range;
  const n = addressToBigInt(vip, r.family);
  return n !== undefined && n >= r.first && n <= r.last;
}

/**
 * Pick a free VIP for `service`. `allocated` holds VIPs already in use (any
 * spelling of an address; addresses outside the range are ignored). Throws
 * VipError EVIP_EXHAUSTED when every usable address is taken.
 */
export function allocateVip(service: ServiceKey, allocated: Iterable<string>, range: CidrRange | string = DEFAULT_VIP_CIDR): string {
  const r = typeof range === 'string' ? parseCidr(range) : range;
  const taken = new Set<bigint>();
  for (const vip of allocated) {
    const n = addressToBigInt(vip, r.family);
    if (n !== undefined && n >= r.first && n <= r.last) taken.add(n);
  }
  // Each taken address can block at most one probe, so taken.size + 1 probes
  // find a free one if any exists; this keeps IPv6 ranges cheap.
  const probes = BigInt(taken.size) + 1n < r.size ? BigInt(taken.size) + 1n : r.size;
  const start = preferredOffset(service, r);
  for (let i = 0n; i < probes; i++) {
    const candidate = r.first + ((start + i) % r.size);
    if (!taken.has(candidate)) return fromBigInt(candidate, r.family);
  }
  throw new VipError('EVIP_EXHAUSTED', `VIP range ${r.cidr} is full (${r.size} addresses in use); configure a larger range`, {
    cidr: r.cidr,
    service: vipKey(service),
    size: Number(r.size),
  });
}

/** Address checks for ipBlocks, destinationSubnets and ServiceEntry addresses. */
import { isIP } from 'node:net';

/** True for "10.0.0.1", "fd00::1", "10.0.0.0/8", "fd00::/64". */
export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return isIP(text) !== 0;
  const family = isIP(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

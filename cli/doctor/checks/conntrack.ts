/**
 * ambitd finds who opened a captured connection with sock_diag, and asks
 * conntrack over netlink when netfilter rewrote the client's source port (a
 * client reusing one port towards two mesh services: native/conntrack_origin.cc).
 * Asking conntrack about a connection that cannot exist (port 0 both ways)
 * shows whether that interface answers on this host: "no such entry" is the
 * healthy answer. Read-only: a GET creates nothing.
 */
import { originalDstAddon } from '../../../core/net/original-dst.js';
import { errorText, ok, warn, type Check } from '../check.js';

const CONSEQUENCE = 'without it, a client that reuses one source port towards two mesh services is sometimes reset (ambitd logs ESOCKET_OWNER_UNKNOWN)';

export const conntrackCheck: Check = {
  name: 'conntrack',
  needs: ['root'],
  run: async () => {
    let ask;
    try {
      ask = originalDstAddon().conntrackOriginalSource;
    } catch (err) {
      return warn(
        `${errorText(err)}; ${CONSEQUENCE}`,
        'npm run build:native in the ambit directory (python3, make and g++), or install the .deb, which ships the addon built',
      );
    }
    if (!ask) return warn(`the native addon predates the conntrack lookup; ${CONSEQUENCE}`, 'rebuild it: npm run build:native');
    try {
      ask(4, '127.0.0.1', 0, '127.0.0.1', 0);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') {
        return warn(
          `conntrack does not answer over netlink (${errorText(err)}); ${CONSEQUENCE}`,
          'modprobe nf_conntrack_netlink, and run ambitd with CAP_NET_ADMIN (the installed unit has it)',
        );
      }
    }
    return ok('conntrack answers over netlink: ambitd can find a client whose source port netfilter rewrote');
  },
};

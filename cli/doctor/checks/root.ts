/** Capture (iptables) and the port and rule checks need root; so does ambitd itself. */
import { fail, ok, type Check } from '../check.js';

export const rootCheck: Check = {
  name: 'root',
  run: async () => {
    const uid = process.getuid?.();
    if (uid === 0) return ok('running as root');
    return fail(`running as uid ${uid ?? 'unknown'}: iptables rules and other users' sockets cannot be read`, 'run it as root: sudo ambit doctor');
  },
};

/** This node's heartbeat record in the store: what other nodes route to. */
import { fail, ok, warn, type Check } from '../check.js';
import { START_AMBITD } from './ambitd.js';
import { humanSeconds } from '../../duration.js';

/** ambitd beats every 10 s (daemon.ts); two and a half missed beats mean it cannot write to the store. */
export const STALE_HEARTBEAT_MS = 25_000;

export const nodeRegistrationCheck: Check = {
  name: 'node-registration',
  needs: ['redis', 'ambitd'],
  run: async (ctx) => {
    const { name, address } = ctx.config.node;
    const record = await (await ctx.store()).getNode(name);
    if (!record)
      return fail(
        `node ${name} is not registered (its heartbeat expired, or ambitd runs under another node name)`,
        `${START_AMBITD}; node.name in ${ctx.settings.configPath ?? 'the settings file'} must be this node's name`,
      );
    const ageMs = Date.now() - (record.lastSeen ?? 0);
    const where = `${name} at ${record.address}:${record.hbonePort ?? '?'}`;
    const age = humanSeconds(Math.round(ageMs / 1000));
    if (ageMs > STALE_HEARTBEAT_MS)
      return warn(`${where}, but its last heartbeat was ${age} ago`, 'ambitd cannot write to the store: see the redis check and the ambitd log');
    if (record.address !== address)
      return warn(
        `${where} registered, but the settings say node.address ${address}`,
        'peers reach this node at the registered address: fix node.address and restart ambitd, or pass --address the same way',
      );
    return ok(`${where}, last heartbeat ${age} ago`);
  },
};

/** ambitd answers on its admin port and says it is ready (config snapshot loaded, proxies listening). */
import type { Readiness as ReadinessReport } from '../../../core/status/index.js';
import { errorText, fail, ok, type Check } from '../check.js';

type Readiness = Partial<ReadinessReport>;

export const START_AMBITD = 'start ambitd (its systemd unit, or `ambitd --config FILE`) and read its log for why it stopped';

export const ambitdCheck: Check = {
  name: 'ambitd',
  needs: ['config'],
  run: async (ctx) => {
    const { adminAddress, ports } = ctx.config;
    let reply;
    try {
      reply = await ctx.admin<Readiness>('/healthz/ready');
    } catch (err) {
      return fail(`not running: ${errorText(err)}`, START_AMBITD);
    }
    if (reply.status === 200 && reply.body.ready) return ok(`ready (admin API on ${adminAddress}:${ports.admin})`);
    if (reply.status === 503) {
      const reasons = reply.body.reasons?.join('; ') || 'no reason given';
      return fail(
        `running but not ready: ${reasons}`,
        'ambitd waits for its first config snapshot from the store: see the redis check below, and the daemon log',
      );
    }
    return fail(
      `${adminAddress}:${ports.admin}/healthz/ready answered HTTP ${reply.status}: is another program on the admin port?`,
      'see the listeners check below',
    );
  },
};

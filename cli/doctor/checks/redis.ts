/**
 * The store answers at the configured address, how fast, and whether ambitd
 * itself is connected to it (and to the same one: ambitd may have been started
 * with --redis).
 */
import { describeTarget } from '../../../core/store/connection.js';
import { AmbitError } from '../../../core/errors.js';
import type { ConfigDumpStatus } from '../../../core/status/index.js';
import { errorText, fail, ok, warn, type Check } from '../check.js';

/** Every config change and certificate request is several round trips; beyond this the mesh reacts visibly slowly. */
export const SLOW_STORE_MS = 100;
const PINGS = 3;

/** An older daemon may not report its store. */
type ConfigDump = Partial<Pick<ConfigDumpStatus, 'store'>>;

export const redisCheck: Check = {
  name: 'redis',
  needs: ['config'],
  run: async (ctx) => {
    const target = describeTarget(ctx.storeOptions());
    const configName = ctx.settings.configPath ?? 'the ambitd settings file';
    let store;
    try {
      store = await ctx.store();
    } catch (err) {
      const cause = err instanceof Error && err.cause !== undefined ? errorText(err.cause) : errorText(err);
      if (err instanceof AmbitError && err.code === 'EREDIS_AUTH') {
        return fail(`Redis at ${target} rejected the credentials (${cause})`, `set the password ambitd uses: store.passwordFile in ${configName}`);
      }
      return fail(
        `cannot reach Redis at ${target} (${cause})`,
        `start Redis there (systemctl start redis-server), or point ambit at the right one: store.url in ${configName}, or --redis URL for doctor`,
      );
    }
    const rtts: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      const t0 = performance.now();
      await store.redis.ping();
      rtts.push(performance.now() - t0);
    }
    const median = rtts.sort((a, b) => a - b)[Math.floor(PINGS / 2)]!;
    const latency = `answers PING in ${median.toFixed(1)} ms (median of ${PINGS})`;
    const daemon = await ctx.admin<ConfigDump>('/config_dump').then(
      (r) => r.body.store,
      () => undefined,
    );
    if (daemon && !daemon.connected) {
      return fail(
        `${target} ${latency}, but ambitd is not connected to ${daemon.target ?? 'its store'}: it serves its last known config`,
        `see why in the ambitd log; if ambitd's store address is wrong, fix store.url in ${configName} and restart ambitd`,
      );
    }
    if (daemon?.target && daemon.target !== target) {
      return warn(
        `${target} ${latency}, but ambitd uses ${daemon.target}`,
        `run doctor against ambitd's store: ambit doctor --redis URL (or make store.url in ${configName} match how ambitd is started)`,
      );
    }
    const about = daemon ? 'ambitd is connected to it too' : 'ambitd not asked (not running)';
    if (median > SLOW_STORE_MS)
      return warn(
        `${target} ${latency}: slow; ${about}`,
        'run Redis close to the nodes (same network or region): config changes and certificate requests each take several round trips',
      );
    return ok(`${target} ${latency}; ${about}`);
  },
};

/**
 * Which way this host fails while ambitd is not running (DESIGN.md "Fail
 * closed"): closed, the default, keeps the capture rules so enrolled services'
 * captured traffic is refused and STRICT ports refuse plaintext; open
 * (capture.failOpen: true) removes them, so that traffic flows in plaintext.
 * Judged from the settings file, which ExecStopPost (ambitd --after-exit) reads
 * too; a running ambitd that was not reloaded since an edit is named.
 */
import type { ConfigDumpStatus } from '../../../core/status/index.js';
import { failMode, type FailMode } from '../../../core/config/fail-mode.js';
import { ok, skip, warn, type Check, type CheckResult } from '../check.js';

type ConfigDump = Partial<Pick<ConfigDumpStatus, 'capture'>>;

/** `running`: the failOpen the live daemon reports, undefined when none answers (or it is too old to say). */
export function judgeFailMode(mode: FailMode, running: boolean | undefined, configName: string): CheckResult {
  if (mode.mode === 'no-capture') return skip(mode.summary);
  const wanted = mode.mode === 'fail-open';
  if (running !== undefined && running !== wanted)
    return warn(
      `${configName} says ${mode.mode.replace('-', ' ')}, but the running ambitd still has capture.failOpen: ${running} (the file changed since it last read it)`,
      'systemctl reload ambitd',
    );
  if (wanted) return warn(mode.summary, `delete capture.failOpen from ${configName} (or set it to false), then systemctl reload ambitd`);
  return ok(mode.summary);
}

export const failModeCheck: Check = {
  name: 'fail-mode',
  needs: ['config'],
  run: async (ctx) => {
    let running: boolean | undefined;
    try {
      const reply = await ctx.admin<ConfigDump>('/config_dump');
      if (reply.status === 200) running = reply.body.capture?.failOpen;
    } catch {
      // No daemon: the file alone decides what ExecStopPost did or will do.
    }
    return judgeFailMode(failMode(ctx.config.capture), running, ctx.settings.configPath ?? 'the ambitd settings file');
  },
};

/**
 * `ambitd --after-exit`: what systemd's ExecStopPost runs, after every stop,
 * clean or not. By default the host fails closed (DESIGN.md "Fail closed"):
 * the rules a stopped or crashed daemon leaves behind stay, so enrolled
 * services' captured traffic is redirected to a port nobody listens on (the
 * kernel answers RST) and STRICT ports keep refusing plaintext; the next
 * ambitd adopts them. Only with capture.failOpen does this remove what a
 * crashed daemon could not (a clean stop removed them itself).
 */
import type { Logger } from 'pino';
import { Capture } from './capture.js';
import { loadDaemonConfig, type DaemonConfig, type DaemonOverrides } from '../core/config/daemon-settings.js';
import { failMode } from '../core/config/fail-mode.js';

export type AfterExitDecision = { action: 'keep'; reason: string } | { action: 'remove'; reason: string };

/**
 * `serviceResult` is systemd's $SERVICE_RESULT ("success", "exit-code",
 * "signal", "timeout", "core-dump", "watchdog", …); unset when run by hand,
 * which counts as after a crash. `config` is undefined when the settings file
 * could not be read: the default (fail closed) then applies, since removing
 * rules on a guess is the one choice that lets plaintext through.
 */
export function decideAfterExit(serviceResult: string | undefined, config: DaemonConfig | undefined): AfterExitDecision {
  if (!config) return { action: 'keep', reason: 'settings unreadable, so the default applies: fail closed, the rules stay until ambitd is back' };
  const mode = failMode(config.capture);
  if (mode.mode === 'no-capture') return { action: 'keep', reason: 'capture.enabled is false: ambitd does not manage iptables here' };
  if (mode.mode === 'fail-closed') return { action: 'keep', reason: `${mode.summary}; the next ambitd adopts them` };
  if (serviceResult === 'success') return { action: 'keep', reason: 'ambitd stopped cleanly and removed them itself (capture.failOpen: true)' };
  const how = serviceResult ? `ambitd ended with ${serviceResult}` : 'no $SERVICE_RESULT (run by hand), so treated as after a crash';
  return { action: 'remove', reason: `${how}; ${mode.summary}` };
}

export interface AfterExitOptions {
  configPath: string | undefined;
  overrides: DaemonOverrides;
  serviceResult: string | undefined;
  log: Logger;
}

/** Carries the decision out; resolves to the process exit code (non-zero when the rules could not be removed). */
export async function cleanUpAfterExit(options: AfterExitOptions): Promise<number> {
  const { log } = options;
  let config: DaemonConfig | undefined;
  try {
    config = await loadDaemonConfig(options.configPath, options.overrides);
  } catch (err) {
    log.error({ file: options.configPath, err: (err as Error).message }, 'after exit: could not read the settings');
  }
  const decision = decideAfterExit(options.serviceResult, config);
  if (decision.action === 'keep') {
    log.info({ serviceResult: options.serviceResult }, `after exit: capture rules left as they are: ${decision.reason}`);
    return 0;
  }
  try {
    await new Capture(log.child({ component: 'capture' })).remove();
    log.warn({ serviceResult: options.serviceResult }, `after exit: capture rules removed: ${decision.reason}`);
    return 0;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'after exit: could not remove the capture rules');
    return 1;
  }
}

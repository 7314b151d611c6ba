/**
 * `ambitd --after-exit`: what systemd's ExecStopPost runs. A daemon that
 * stops cleanly removes its capture rules itself (unless keepRulesOnExit); one
 * that crashed or was killed leaves them behind, so enrolled services' mesh
 * traffic would be redirected to a port nobody listens on. This removes them
 * then, honouring the same settings the daemon would have.
 */
import type { Logger } from 'pino';
import { Capture } from './capture.js';
import { loadDaemonConfig, type DaemonConfig, type DaemonOverrides } from '../core/config/daemon-settings.js';

export interface AfterExitDecision {
  remove: boolean;
  reason: string;
}

/**
 * `serviceResult` is systemd's $SERVICE_RESULT ("success", "exit-code",
 * "signal", "timeout", "core-dump", "watchdog", …); unset when run by hand,
 * which counts as after a crash. `config` is undefined when the settings file
 * could not be read: the default (keepRulesOnExit false) then applies.
 */
export function decideAfterExit(serviceResult: string | undefined, config: DaemonConfig | undefined): AfterExitDecision {
  if (serviceResult === 'success') return { remove: false, reason: 'ambitd stopped cleanly and already did what keepRulesOnExit asks' };
  if (config && !config.capture.enabled) return { remove: false, reason: 'capture.enabled is false: ambitd does not manage iptables here' };
  if (config?.capture.keepRulesOnExit) return { remove: false, reason: 'capture.keepRulesOnExit is true: rules stay (fail closed) until ambitd is back' };
  const how = serviceResult ? `ambitd ended with ${serviceResult}` : 'no $SERVICE_RESULT (run by hand), so treated as after a crash';
  return { remove: true, reason: config ? how : `${how}; settings unreadable, so the default (keepRulesOnExit: false) applies` };
}

export interface AfterExitOptions {
  configPath: string | undefined;
  overrides: DaemonOverrides;
  serviceResult: string | undefined;
  log: Logger;
}

/** Runs the cleanup; resolves to the process exit code (non-zero when the rules could not be removed). */
export async function cleanUpAfterExit(options: AfterExitOptions): Promise<number> {
  const { log } = options;
  let config: DaemonConfig | undefined;
  try {
    config = await loadDaemonConfig(options.configPath, options.overrides);
  } catch (err) {
    log.error({ file: options.configPath, err: (err as Error).message }, 'after exit: could not read the settings');
  }
  const decision = decideAfterExit(options.serviceResult, config);
  if (!decision.remove) {
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

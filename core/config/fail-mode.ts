/**
 * What a host does with enrolled services' traffic while ambitd is not running
 * (DESIGN.md "Fail closed"), decided from the settings alone, in the words
 * ambitd logs and `ambit doctor` prints, so the two never describe one host
 * differently. In core/ because both read it.
 */
import type { DaemonConfig } from './daemon-settings.js';

export type FailMode =
  /** The default: rules stay while ambitd is down, pointing at its closed port. */
  | { mode: 'fail-closed'; summary: string }
  /** capture.failOpen: true: rules removed on stop and crash. */
  | { mode: 'fail-open'; summary: string }
  /** capture.enabled: false: ambitd programs no rules at all. */
  | { mode: 'no-capture'; summary: string };

export function failMode(capture: DaemonConfig['capture']): FailMode {
  if (!capture.enabled)
    return { mode: 'no-capture', summary: 'capture is off (capture.enabled: false): ambitd programs no rules, so nothing is captured, running or not' };
  if (capture.failOpen)
    return {
      mode: 'fail-open',
      summary:
        "fail open (capture.failOpen: true): when ambitd stops or crashes its capture rules are removed, so enrolled services' traffic flows uncaptured, in plaintext, and STRICT ports accept plaintext",
    };
  return {
    mode: 'fail-closed',
    summary:
      "fail closed: while ambitd is not running its capture rules stay, so enrolled services' captured traffic and plaintext to their ports never pass unchecked (refused, or held in the socket units' queues until ambitd is back) and STRICT ports stay closed to plaintext; only ambit uninstall removes them",
  };
}

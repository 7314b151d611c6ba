/** Every doctor check, in report order: the host, then the daemon, then the store, then identity and DNS. */
import type { Check } from '../check.js';
import { ambitdCheck } from './ambitd.js';
import { captureRulesCheck } from './capture-rules.js';
import { clockSkewCheck } from './clock-skew.js';
import { configCheck } from './config.js';
import { conntrackCheck } from './conntrack.js';
import { failModeCheck } from './fail-mode.js';
import { iptablesCheck } from './iptables.js';
import { kernelCaptureCheck } from './kernel-capture.js';
import { listenersCheck } from './listeners.js';
import { meshDnsCheck } from './mesh-dns.js';
import { meshSettingsCheck } from './mesh-settings.js';
import { nodeCertCheck } from './node-cert.js';
import { nodeRegistrationCheck } from './node-registration.js';
import { nodeVersionCheck } from './node-version.js';
import { redisCheck } from './redis.js';
import { rootCheck } from './root.js';
import { workloadCertsCheck } from './workload-certs.js';

export const CHECKS: readonly Check[] = [
  rootCheck,
  nodeVersionCheck,
  configCheck,
  iptablesCheck,
  kernelCaptureCheck,
  conntrackCheck,
  ambitdCheck,
  listenersCheck,
  captureRulesCheck,
  failModeCheck,
  redisCheck,
  meshSettingsCheck,
  nodeRegistrationCheck,
  clockSkewCheck,
  nodeCertCheck,
  workloadCertsCheck,
  meshDnsCheck,
];

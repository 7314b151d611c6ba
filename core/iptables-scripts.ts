/**
 * Where this install's capture scripts are (scripts/iptables/: apply, remove,
 * check). ambitd runs them to program capture and `ambit doctor` runs check.sh
 * with the daemon's own options, so both must find the same copy: resolved from
 * dist/core/, two levels below the package root.
 */
import { fileURLToPath } from 'node:url';

/** With its trailing slash. */
export const IPTABLES_SCRIPTS_DIR = fileURLToPath(new URL('../../scripts/iptables/', import.meta.url));

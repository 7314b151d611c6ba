/** Where a node keeps its key, certificates and store credentials: one name for the daemon, the CLI and the installer. */
export const DEFAULT_NODE_DIR = '/var/lib/ambit';

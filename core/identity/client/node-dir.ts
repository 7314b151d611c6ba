/** Where a node keeps its key, certificates and store credentials: one name for the daemon, the CLI and the installer. */
import { join } from 'node:path';

export const DEFAULT_NODE_DIR = '/var/lib/ambit';

/**
 * A waypoint's own state (its last accepted manifest sequence) under a node
 * dir, by the FQDN of the service it serves: outside the certificate
 * directory the daemon removes on detach, so a re-attached waypoint still
 * refuses a manifest older than one it accepted before.
 */
export function waypointStateDir(nodeDir: string, serviceFqdn: string): string {
  return join(nodeDir, 'waypoint-state', serviceFqdn);
}

/**
 * Snapshot bookkeeping shared by the watcher and by consumers that keep their own
 * copy: a full snapshot plus the changes after it must equal a fresh snapshot.
 */
import { refKey } from '../config/resource.js';
import { endpointKey, serviceKey } from './keys.js';
import type { Change, Snapshot } from './types.js';

export function emptySnapshot(): Snapshot {
  return { revision: 0, resources: new Map(), services: new Map(), endpoints: new Map() };
}

/** Applies one change in place and returns the same snapshot (revision moves to the change's). */
export function applyChange(snapshot: Snapshot, change: Change): Snapshot {
  switch (change.type) {
    case 'resource-put':
      snapshot.resources.set(refKey(change.resource), change.resource);
      break;
    case 'resource-delete':
      snapshot.resources.delete(refKey(change.ref));
      break;
    case 'service-put':
      snapshot.services.set(serviceKey(change.service.namespace, change.service.name), change.service);
      break;
    case 'service-delete':
      snapshot.services.delete(serviceKey(change.namespace, change.name));
      break;
    case 'endpoint-put':
      snapshot.endpoints.set(endpointKey(change.endpoint), change.endpoint);
      break;
    case 'endpoint-delete':
      snapshot.endpoints.delete(endpointKey(change.endpoint));
      break;
    case 'manifest-put':
      snapshot.manifest = change.manifest;
      break;
  }
  snapshot.revision = Math.max(snapshot.revision, change.revision);
  return snapshot;
}

/** A deep copy, for consumers that want to mutate their own snapshot with applyChange. */
export function cloneSnapshot(snapshot: Snapshot): Snapshot {
  return structuredClone(snapshot);
}

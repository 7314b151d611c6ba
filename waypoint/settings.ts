/**
 * ambit-waypoint's settings file (`--config`, ambit-waypoint.yaml): for now
 * its `tracing` section, validated once (at start and on SIGHUP) with the
 * same `file:line: field: problem` messages as ambitd.yaml; a file that does
 * not validate changes nothing. The mesh itself (routes, policies,
 * endpoints) comes from the store, compiled by config.ts.
 */
import { readFile } from 'node:fs/promises';
import { object, type Schema } from '../core/config/schema.js';
import { parseSettings } from '../core/config/settings-file.js';
import { DEFAULT_TELEMETRY, type TracingSettings } from '../core/telemetry/settings.js';
import { TRACING_SCHEMA } from '../core/telemetry/tracing-schema.js';

export interface WaypointSettings {
  tracing: TracingSettings;
}

const FILE_SCHEMA: Schema<{ tracing?: TracingSettings }> = object<{ tracing?: TracingSettings }>({ tracing: TRACING_SCHEMA });

export const DEFAULT_WAYPOINT_SETTINGS: WaypointSettings = { tracing: DEFAULT_TELEMETRY.tracing };

export function parseWaypointSettings(text: string, file: string): WaypointSettings {
  const parsed = parseSettings(text, file, FILE_SCHEMA);
  return { tracing: parsed.tracing ?? DEFAULT_WAYPOINT_SETTINGS.tracing };
}

/** The file's settings; without a file, the defaults (tracing off). */
export async function loadWaypointSettings(path: string | undefined): Promise<WaypointSettings> {
  return path === undefined ? DEFAULT_WAYPOINT_SETTINGS : parseWaypointSettings(await readFile(path, 'utf8'), path);
}

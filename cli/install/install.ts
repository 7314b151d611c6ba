/**
 * `ambit install`: /etc/ambit/ambitd.yaml, the ambitd systemd unit and the
 * socket units that hold its ports (socket-units.ts), then
 * (when systemd runs this host) enable and start it. Idempotent: a second
 * run finds every file unchanged; an ambitd.yaml edited by hand is kept
 * unless --force.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AmbitError, ConfigErrors } from '../../core/errors.js';
import { parseDaemonConfig, type DaemonConfig } from '../../core/config/daemon-settings.js';
import { renderDaemonConfig, type DaemonConfigValues } from './daemon-config-file.js';
import { applyHostChanges, type HostChange, type Print } from './host-changes.js';
import { PACKAGE_ROOT, SOURCES, TARGETS, UNIT_NAME, underRoot } from './layout.js';
import { checkedRoot, findCommand, hostHasIpv6, readIfExists, systemdRuns } from './host-state.js';
import { socketUnitNames, socketUnits } from './socket-units.js';
import { codeInHome, codeInPrivateTmp, createdDirsOf, privateTmpProblem, renderUnit } from './systemd-unit.js';

export interface InstallOptions extends DaemonConfigValues {
  root?: string | undefined;
  dryRun: boolean;
  /** false with --no-start: write the files, leave systemd alone. */
  start: boolean;
  ca: boolean;
  force: boolean;
}

const CONFIG_MODE = 0o640;
const UNIT_MODE = 0o644;

export async function install(options: InstallOptions, print: Print): Promise<void> {
  const root = await checkedRoot(options.root, 'install', options.dryRun);
  // First, before any file is read or shown: a unit that cannot see the code it runs is no
  // install at all, and --dry-run must say so as plainly as the real run.
  const hidden = codeInPrivateTmp([process.execPath, SOURCES.ambitd]);
  if (hidden && root === '/') throw new AmbitError('EINSTALL_LOCATION', privateTmpProblem(hidden), { path: hidden });
  if (!existsSync(SOURCES.ambitd))
    throw new AmbitError('EINSTALL_SOURCE', `${SOURCES.ambitd} is missing: this copy of ambit is incomplete`, { path: SOURCES.ambitd });
  const changes: HostChange[] = [];

  const configFile = underRoot(root, TARGETS.config);
  const wanted = renderDaemonConfig(await readFile(SOURCES.configTemplate, 'utf8'), options);
  const existing = await readIfExists(configFile);
  const keep = existing !== undefined && existing !== wanted && !options.force;
  const config = settingsInForce(keep ? existing : wanted, configFile, keep);

  // Directories first, shallowest first; each missing one is recorded in the unit for uninstall.
  const dirs: { path: string; mode: number }[] = [
    { path: TARGETS.configDir, mode: 0o755 },
    { path: TARGETS.unitDir, mode: 0o755 },
    // /var/lib/ambit itself comes from the unit's StateDirectory=; another identity directory must exist for ReadWritePaths=.
    ...(config.identity.dir === TARGETS.stateDir || config.identity.dir.startsWith(`${TARGETS.stateDir}/`) ? [] : [{ path: config.identity.dir, mode: 0o700 }]),
  ];
  const created: string[] = [];
  for (const dir of dirs) {
    for (const path of missingDirs(root, dir.path)) {
      if (created.includes(path)) continue;
      created.push(path);
      changes.push({ kind: 'mkdir', path: underRoot(root, path), mode: path === dir.path ? dir.mode : 0o755 });
    }
  }

  if (existing === undefined) changes.push({ kind: 'write', path: configFile, content: wanted, mode: CONFIG_MODE, verb: 'wrote' });
  else if (existing === wanted) changes.push({ kind: 'say', text: `unchanged ${configFile}` });
  else if (options.force) changes.push({ kind: 'write', path: configFile, content: wanted, mode: CONFIG_MODE, verb: 'replaced' });
  else
    changes.push({
      kind: 'say',
      text: `kept ${configFile}: it differs from what this install would write (edited by hand, or written with other flags); the unit follows its settings; pass --force to replace it`,
    });

  if (hidden) changes.push({ kind: 'say', text: `warning: ${privateTmpProblem(hidden)} (staged under ${root}: fine only if it moves before the unit runs)` });
  const unitFile = underRoot(root, TARGETS.unit);
  const installedUnit = await readIfExists(unitFile);
  const unit = renderUnit(await readFile(SOURCES.unitTemplate, 'utf8'), {
    node: process.execPath,
    kill: requiredCommand('kill'),
    touch: requiredCommand('touch'),
    ambitd: SOURCES.ambitd,
    packageRoot: PACKAGE_ROOT,
    configPath: TARGETS.config,
    ca: options.ca,
    drainTimeoutMs: config.drainTimeoutMs,
    identityDir: config.identity.dir,
    socketUnits: socketUnitNames(config.ports),
    createdDirs: [...new Set([...createdDirsOf(installedUnit ?? '', root), ...created])],
    root,
  });
  changes.push(unitFileChange(unitFile, installedUnit, unit));
  let socketsChanged = false;
  for (const socket of socketUnits(config.ports, { ipv6: hostHasIpv6(), packageRoot: PACKAGE_ROOT })) {
    const path = underRoot(root, socket.path);
    const change = unitFileChange(path, await readIfExists(path), socket.content);
    socketsChanged ||= change.kind === 'write';
    changes.push(change);
  }

  if (codeInHome([process.execPath, SOURCES.ambitd])) {
    changes.push({
      kind: 'say',
      text: `note: ambitd runs code from a home directory (${process.execPath}, ${SOURCES.ambitd}); the unit can then only make home directories read-only, and root runs code a user may be able to change: prefer a copy under /opt or /usr/local`,
    });
  }
  changes.push(
    ...serviceSteps(
      root,
      options,
      config,
      changes.some((c) => c.kind === 'write'),
      socketsChanged,
    ),
  );
  await applyHostChanges(changes, { dryRun: options.dryRun, print });
}

function unitFileChange(path: string, installed: string | undefined, content: string): HostChange {
  if (installed === undefined) return { kind: 'write', path, content, mode: UNIT_MODE, verb: 'wrote' };
  if (installed === content) return { kind: 'say', text: `unchanged ${path}` };
  return { kind: 'write', path, content, mode: UNIT_MODE, verb: 'updated' };
}

function requiredCommand(name: string): string {
  const path = findCommand(name);
  if (!path)
    throw new AmbitError('EINSTALL_MISSING_TOOL', `no \`${name}\` on this host (the unit runs it): install it (coreutils / procps)`, { command: name });
  return path;
}

/** The settings ambitd will run with: the kept file's (which must be valid) or the new one's. */
function settingsInForce(text: string, file: string, kept: boolean): DaemonConfig {
  try {
    return parseDaemonConfig(text, file);
  } catch (err) {
    if (!kept || !(err instanceof ConfigErrors)) throw err;
    throw new AmbitError('EINSTALL_CONFIG', `${err.message}${err.errors.length > 1 ? '\n' : '; '}fix ${file}, or pass --force to replace it with a fresh one`, {
      file,
    });
  }
}

/** `path` and its ancestors that do not exist under `root`, shallowest first. */
function missingDirs(root: string, path: string): string[] {
  const missing: string[] = [];
  for (let p = path; p !== '/' && !existsSync(underRoot(root, p)); p = dirname(p)) missing.unshift(p);
  return missing;
}

/** systemctl when systemd runs this host and we may start things; otherwise what to run later. */
function serviceSteps(root: string, options: InstallOptions, config: DaemonConfig, changed: boolean, socketsChanged: boolean): HostChange[] {
  const joined = existsSync(underRoot(root, join(config.identity.dir, 'node-cert.pem')));
  // The socket units with the service: enabled, they hold the ports from boot on (sockets.target).
  const units = [...socketUnitNames(config.ports), UNIT_NAME];
  // New or changed socket units cannot bind while a running ambitd holds the ports itself (an install
  // from before them) or the old ones do: one restart stops ambitd first, binds the sockets, starts it on them.
  const restart = joined && socketsChanged;
  const commands = [
    ['daemon-reload'],
    ...(restart
      ? [
          ['enable', ...units],
          ['restart', ...units],
        ]
      : [joined ? ['enable', '--now', ...units] : ['enable', ...units]]),
  ];
  const steps: HostChange[] = [];
  const joinHint = `this node has not joined the mesh yet (no ${join(config.identity.dir, 'node-cert.pem')}): run \`ambit node join --token <from ambit node token create>${config.identity.dir === TARGETS.stateDir ? '' : ` --dir ${config.identity.dir}`}\`, then \`systemctl start ${UNIT_NAME}\``;
  const why =
    root !== '/' ? `--root ${root}` : !options.start ? '--no-start' : !systemdRuns() ? 'systemd is not running here: no /run/systemd/system' : undefined;
  if (why) {
    steps.push({ kind: 'say', text: `not touching systemd (${why}); to start ambitd on the host:` });
    for (const args of commands) steps.push({ kind: 'say', text: `  systemctl ${args.join(' ')}` });
  } else {
    for (const args of commands) steps.push({ kind: 'run', command: 'systemctl', args });
    if (changed && !restart)
      steps.push({
        kind: 'say',
        text: `if ambitd was already running: \`systemctl restart ${UNIT_NAME}\` applies the new files (\`systemctl reload ${UNIT_NAME}\` applies live settings only)`,
      });
  }
  if (!joined) steps.push({ kind: 'say', text: joinHint });
  return steps;
}

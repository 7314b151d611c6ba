/**
 * `ambit uninstall`: stop and disable ambitd, remove what install wrote (the
 * unit, its socket units and ambitd.yaml) and, on the real host, its capture rules; with
 * --purge also the node's identity, which `ambit node join` (not install)
 * made and which a re-install would want back. Directories that install
 * created go too once empty, so the host ends as it was before install.
 * Idempotent.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';
import { applyHostChanges, type HostChange, type Print } from './host-changes.js';
import { PACKAGE_ROOT, TARGETS, UNIT_NAME, underRoot } from './layout.js';
import { checkedRoot, findCommand, readIfExists, systemdRuns } from './host-state.js';
import { SOCKET_UNIT_MARKER } from './socket-units.js';
import { createdDirsOf } from './systemd-unit.js';

export interface UninstallOptions {
  root?: string | undefined;
  dryRun: boolean;
  purge: boolean;
}

const REMOVE_RULES = join(PACKAGE_ROOT, 'scripts/iptables/remove.sh');

export async function uninstall(options: UninstallOptions, print: Print): Promise<void> {
  const root = await checkedRoot(options.root, 'uninstall', options.dryRun);
  const onHost = root === '/';
  const systemd = onHost && systemdRuns();
  const changes: HostChange[] = [];

  const unitFile = underRoot(root, TARGETS.unit);
  const unit = await readIfExists(unitFile);
  const sockets = await installedSocketUnits(root);
  if (unit !== undefined || sockets.length > 0) {
    // Stopping drains; the rules stay (fail closed) until remove.sh below, so nothing flows in plaintext in between.
    if (systemd) changes.push({ kind: 'run', command: 'systemctl', args: ['disable', '--now', UNIT_NAME, ...sockets.map((s) => s.name)] });
    if (unit !== undefined) changes.push({ kind: 'remove', path: unitFile });
    for (const s of sockets) changes.push({ kind: 'remove', path: s.path });
    if (systemd) changes.push({ kind: 'run', command: 'systemctl', args: ['daemon-reload'] });
  }
  if (unit === undefined) changes.push({ kind: 'say', text: `already absent: ${unitFile}` });

  if (!onHost) changes.push({ kind: 'say', text: `capture rules not touched (--root ${root}: they belong to the host)` });
  else if (!findCommand('iptables')) changes.push({ kind: 'say', text: 'no iptables on this host, so no capture rules to remove' });
  else changes.push({ kind: 'run', command: 'bash', args: [REMOVE_RULES] });

  const created = createdDirsOf(unit ?? '', root);
  if (options.purge) changes.push(...(await purgeSteps(root, created)));
  else {
    const config = underRoot(root, TARGETS.config);
    changes.push(existsSync(config) ? { kind: 'remove', path: config } : { kind: 'say', text: `already absent: ${config}` });
    if (existsSync(underRoot(root, TARGETS.stateDir)))
      changes.push({
        kind: 'say',
        text: `kept the node's identity (${underRoot(root, TARGETS.stateDir)}), which a re-install uses; pass --purge to remove it`,
      });
  }

  // Deepest first: a parent can only go once its children have.
  for (const dir of [...created].sort((a, b) => b.length - a.length)) changes.push({ kind: 'rmdir-if-empty', path: underRoot(root, dir) });
  await applyHostChanges(changes, { dryRun: options.dryRun, print });
}

/** The ambitd-*.socket units install wrote (they carry its marker), whatever listeners that install had. */
async function installedSocketUnits(root: string): Promise<{ name: string; path: string }[]> {
  const dir = underRoot(root, TARGETS.unitDir);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^ambitd-[\w-]+\.socket$/.test(n)).sort();
  const ours = await Promise.all(names.map(async (name) => ((await readIfExists(join(dir, name)))?.startsWith(SOCKET_UNIT_MARKER) ? name : undefined)));
  return ours.filter((n): n is string => n !== undefined).map((name) => ({ name, path: join(dir, name) }));
}

/**
 * Settings and state. An identity directory moved out of /var/lib/ambit (by
 * ambitd.yaml) goes too if install created it; any other is not ours to
 * delete wholesale. /etc/ambit/ca is kept: it may hold the mesh's CA key,
 * and losing it would orphan every certificate in the mesh.
 */
async function purgeSteps(root: string, created: string[]): Promise<HostChange[]> {
  const steps: HostChange[] = [];
  const configDir = underRoot(root, TARGETS.configDir);
  const text = await readIfExists(underRoot(root, TARGETS.config));
  let identityDir: string = TARGETS.stateDir;
  if (text !== undefined) {
    try {
      identityDir = parseDaemonConfig(text, TARGETS.config).identity.dir;
    } catch (err) {
      steps.push({
        kind: 'say',
        text: `could not read identity.dir from ${underRoot(root, TARGETS.config)} (${(err as Error).message}); purging ${TARGETS.stateDir} only`,
      });
    }
  }
  const entries = await readdir(configDir).catch(() => undefined);
  if (entries === undefined) steps.push({ kind: 'say', text: `already absent: ${configDir}` });
  else if (entries.includes('ca')) {
    for (const e of entries.filter((e) => e !== 'ca').sort()) steps.push({ kind: 'remove', path: join(configDir, e) });
    steps.push({
      kind: 'say',
      text: `kept ${join(configDir, 'ca')}: it may hold the mesh CA key (losing it orphans every certificate); remove it yourself if you mean to`,
    });
  } else steps.push({ kind: 'remove', path: configDir });
  for (const dir of new Set([TARGETS.stateDir, identityDir])) {
    const path = underRoot(root, dir);
    if (!existsSync(path)) steps.push({ kind: 'say', text: `already absent: ${path}` });
    else if (dir === TARGETS.stateDir || created.includes(dir)) steps.push({ kind: 'remove', path });
    else
      steps.push({
        kind: 'say',
        text: `kept ${path} (identity.dir, which ambit install did not create): it holds this node's key; remove it yourself if you mean to`,
      });
  }
  return steps;
}

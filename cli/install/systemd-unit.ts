/**
 * ambitd.service as `ambit install` writes it: configs/ambitd.service with
 * this host's paths and the daemon's settings filled in. The unit also
 * records which directories install created, so that uninstall can leave
 * the host as it found it.
 */
import { AmbitError } from '../../core/errors.js';
import { TARGETS } from './layout.js';

export interface UnitParams {
  /** The node binary that runs ambitd (process.execPath of the installing CLI). */
  node: string;
  /** Absolute paths of the helpers the unit runs, as found on this host. */
  kill: string;
  touch: string;
  ambitd: string;
  packageRoot: string;
  configPath: string;
  /** Also run the certificate signer (ambitd --ca). */
  ca: boolean;
  drainTimeoutMs: number;
  identityDir: string;
  /** The ambitd-<name>.socket units that hold its ports (socket-units.ts). */
  socketUnits: string[];
  /** Host paths of directories install created (this run and earlier ones), under `root`. */
  createdDirs: string[];
  root: string;
}

/** Extra time over the drain deadline for closing the store, identity and waypoints before SIGKILL. */
const STOP_MARGIN_S = 15;
const STATE_DIRECTORY = TARGETS.stateDir;
const BASE_CAPABILITIES = ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE'];
const HOME_DIRS = ['/home', '/root', '/run/user'];
const PRIVATE_TMP_DIRS = ['/tmp', '/var/tmp'];
/**
 * The record names the root install wrote under: a unit staged with --root
 * and copied to a host must not make uninstall there remove that host's directories.
 */
const createdRecord = (root: string): string => `# ambit install (root ${root}) created these directories; ambit uninstall removes them once empty: `;

const isUnder = (path: string, dirs: string[]): boolean => dirs.some((d) => path === d || path.startsWith(`${d}/`));

export function renderUnit(template: string, p: UnitParams): string {
  const code = [p.node, p.ambitd];
  const inHome = code.some((path) => isUnder(path, HOME_DIRS));
  const values: Record<string, string> = {
    CREATED_DIRS: `${createdRecord(p.root).slice(2)}${JSON.stringify([...p.createdDirs].sort())}`,
    PACKAGE_ROOT: p.packageRoot,
    NODE: execArg(p.node),
    KILL: execArg(p.kill),
    TOUCH: execArg(p.touch),
    AMBITD: execArg(p.ambitd),
    CONFIG: execArg(p.configPath),
    DAEMON_FLAGS: p.ca ? ' --ca' : '',
    SOCKET_UNITS: p.socketUnits.join(' '),
    DRAIN: formatDuration(p.drainTimeoutMs),
    TIMEOUT_STOP_SEC: `${Math.ceil(p.drainTimeoutMs / 1000) + STOP_MARGIN_S}s`,
    // Home directories are often 0700: root reads code there only with DAC_READ_SEARCH.
    CAPABILITIES: [...BASE_CAPABILITIES, ...(inHome ? ['CAP_DAC_READ_SEARCH'] : [])].join(' '),
    // StateDirectory= makes /var/lib/ambit writable; an identity directory elsewhere must be listed.
    READ_WRITE_PATHS: isUnder(p.identityDir, [STATE_DIRECTORY]) ? '' : ` ${pathArg(p.identityDir)}`,
    PROTECT_HOME: inHome ? 'read-only' : 'yes',
  };
  return template.replace(/@([A-Z_]+)@/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new AmbitError('EINSTALL_TEMPLATE', `configs/ambitd.service has @${name}@, which ambit install does not fill in`, { placeholder: name });
    return value;
  });
}

/** The first path the unit's PrivateTmp=yes would hide from ambitd, if any. */
export function codeInPrivateTmp(paths: string[]): string | undefined {
  return paths.find((path) => isUnder(path, PRIVATE_TMP_DIRS));
}

/** Code the unit would hide: an error for a real install, a warning for one staged with --root (it may be moved before it runs). */
export function privateTmpProblem(path: string): string {
  return `${path} is under ${PRIVATE_TMP_DIRS.join(' or ')}, which the unit hides from ambitd (PrivateTmp=yes), so ambitd would not start: install the .deb (apt install ./ambit_<version>_amd64.deb, which puts ambit in /opt/ambit), or move this copy of ambit (and its node) somewhere permanent such as /opt or /usr/local and run install from there`;
}

/** Whether the unit's code paths are under a home directory (the unit then only reads them: ProtectHome=read-only). */
export function codeInHome(paths: string[]): boolean {
  return paths.some((path) => isUnder(path, HOME_DIRS));
}

/** The directories an installed unit says install created under `root` ([] without such a record). */
export function createdDirsOf(unitText: string, root: string): string[] {
  const prefix = createdRecord(root);
  const line = unitText.split('\n').find((l) => l.startsWith(prefix));
  if (!line) return [];
  try {
    const dirs: unknown = JSON.parse(line.slice(prefix.length));
    return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === 'string' && d.startsWith('/')) : [];
  } catch {
    return [];
  }
}

/** One word of an Exec line: % and $ are systemd specifiers and variables, so they are doubled. */
function execArg(word: string): string {
  return quoteIfNeeded(word.replace(/%/g, '%%').replace(/\$/g, '$$$$'));
}

function pathArg(path: string): string {
  return quoteIfNeeded(path.replace(/%/g, '%%'));
}

function quoteIfNeeded(word: string): string {
  return /[\s"'\\;]/.test(word) ? `"${word.replace(/(["\\])/g, '\\$1')}"` : word;
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

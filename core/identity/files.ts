import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { IdentityError } from './errors.js';

export interface WriteOptions {
  /** File mode; private keys get 0600 so only the daemon's user reads them. */
  mode: number;
  /**
   * Replace an existing file. Off by default: silently replacing a CA key
   * would orphan every certificate it signed.
   */
  overwrite?: boolean;
}

/**
 * Writes `data` to `path` with exactly `mode`. A new file is created with
 * O_EXCL so two `ca init` runs cannot both win; a replacement is written
 * beside the target and renamed over it, so a reader never sees half a key.
 */
export async function writeFileSecure(path: string, data: string, options: WriteOptions): Promise<void> {
  if (!options.overwrite) {
    await writeExclusive(path, data, options.mode);
    return;
  }
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeExclusive(temp, data, options.mode);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

async function writeExclusive(path: string, data: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new IdentityError('EIDENTITY_FILE_EXISTS', `${path} already exists; refusing to overwrite it (pass overwrite to replace it)`, { path });
    }
    throw err;
  }
  try {
    // open()'s mode is filtered by the umask; chmod makes the mode exact.
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a text file, turning ENOENT into an error that names the file's role. */
export async function readTextFile(path: string, role: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new IdentityError('EIDENTITY_FILE_NOT_FOUND', `${role} file ${path} does not exist`, { path, role });
    }
    throw err;
  }
}

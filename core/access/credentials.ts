/**
 * Store credentials on disk: one small JSON file per role holder,
 * `{"username": "...", "password": "..."}`, mode 0600, read at start. Files and
 * never command lines or settings: a password in ambitd.yaml or in argv is
 * readable by whoever can read the settings or run `ps`.
 *
 * A node's password is derived from its join token (HMAC, so the token's digest
 * in the store says nothing about it): the operator who mints the token creates
 * the node's ACL user with it, and the node, which holds the token, can connect
 * as that user before it has any other secret.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AccessError } from './errors.js';

export interface StoreCredentials {
  username: string;
  password: string;
}

/** Where `ambit store init` writes the operator's and the signer's files by default. */
export const DEFAULT_CREDENTIALS_DIR = '/etc/ambit/store';
/** The operator's and the signer's files in that directory. */
export const OPERATOR_CREDENTIALS = 'operator.json';
export const SIGNER_CREDENTIALS = 'signer.json';
/** The node's file, in its identity directory, written by `ambit node join`. */
export const NODE_CREDENTIALS_FILE = 'store-credentials.json';

export function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** The password of the node user created for a join token. */
export function nodePassword(token: string): string {
  return createHmac('sha256', token.trim()).update('ambit store password v1').digest('base64url');
}

export async function readCredentials(file: string): Promise<StoreCredentials> {
  let text: string;
  try {
    checkMode(file, (await stat(file)).mode);
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  return parseCredentials(text, file);
}

/** For the CLI's option parsing, which is synchronous. */
export function readCredentialsSync(file: string): StoreCredentials {
  let text: string;
  try {
    checkMode(file, statSync(file).mode);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  return parseCredentials(text, file);
}

// Another user able to read it could act as this role: refuse rather than use it.
function checkMode(file: string, mode: number): void {
  if ((mode & 0o077) === 0) return;
  throw new AccessError('EACCESS_CREDENTIALS', `${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${file}`, {
    path: file,
  });
}

function unreadable(file: string, err: unknown): AccessError {
  if (err instanceof AccessError) return err;
  return new AccessError('EACCESS_CREDENTIALS', `cannot read store credentials ${file}: ${(err as Error).message}`, { path: file }, { cause: err });
}

export function parseCredentials(text: string, file: string): StoreCredentials {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const rec = data as Partial<Record<string, unknown>> | undefined;
  const ok = rec && typeof rec === 'object' && Object.keys(rec).every((k) => k === 'username' || k === 'password');
  if (!ok || typeof rec.username !== 'string' || !rec.username || typeof rec.password !== 'string' || !rec.password) {
    throw new AccessError('EACCESS_CREDENTIALS', `${file} is not {"username": "...", "password": "..."}`, { path: file });
  }
  return { username: rec.username, password: rec.password };
}

/** Writes atomically with mode 0600 (a reader never sees half a file or an open mode). */
export async function writeCredentials(file: string, credentials: StoreCredentials): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

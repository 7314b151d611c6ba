/**
 * The file that keeps the last accepted manifest sequence across restarts
 * (core/identity/manifest/sequence-file.ts), on a real file system: missing
 * means 0, anything else that is not one integer is a typed error (never 0),
 * writes are atomic (no temporary file left, mode 0600), the value only
 * rises however raises interleave with writes, and a failed write is counted
 * while the sequence stays enforced in memory.
 */
import test from 'ava';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { IdentityError } from '../../core/identity/errors.js';
import { loadSequence, MANIFEST_SEQUENCE_FILE, SequenceFile, sequenceWriteFailures, storeSequence } from '../../core/identity/manifest/sequence-file.js';
import { tempDir } from './identity-fixtures.js';

const log = pino({ level: 'silent' });
const failures = async () => (await sequenceWriteFailures.get()).values[0]?.value ?? 0;

test('no file means nothing accepted yet; open() creates the state dir private', async (t) => {
  const dir = join(await tempDir(t), 'state', 'waypoint');
  t.is(await loadSequence(join(dir, MANIFEST_SEQUENCE_FILE)), 0);
  const seq = await SequenceFile.open(dir, log);
  t.is(seq.value, 0);
  t.is((await stat(dir)).mode & 0o777, 0o700);
  t.deepEqual(await readdir(dir), [], 'opening writes nothing');
});

test('store then load round-trips, atomically: mode 0600, no temporary file left behind', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, MANIFEST_SEQUENCE_FILE);
  await storeSequence(file, 41);
  await storeSequence(file, 42);
  t.is(await loadSequence(file), 42);
  t.is(await readFile(file, 'utf8'), '42\n');
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(dir), [MANIFEST_SEQUENCE_FILE]);
  await t.throwsAsync(storeSequence(file, -1), { instanceOf: RangeError });
  await t.throwsAsync(storeSequence(file, 1.5), { instanceOf: RangeError });
  t.is(await loadSequence(file), 42, 'a refused value changes nothing');
});

for (const [name, text] of [
  ['empty', ''],
  ['words', 'abc\n'],
  ['negative', '-1\n'],
  ['fraction', '1.5\n'],
  ['trailing junk', '12abc'],
  ['exponent', '1e3'],
  ['leading space', ' 7\n'],
  ['leading zero', '007\n'],
  ['two lines', '3\n4\n'],
  ['beyond 2^53', '9007199254740993\n'],
] as const) {
  test(`a file holding ${name} is EIDENTITY_SEQUENCE_CORRUPT, never 0`, async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, MANIFEST_SEQUENCE_FILE);
    await writeFile(file, text);
    const err = await t.throwsAsync(loadSequence(file), { instanceOf: IdentityError });
    t.is(err.code, 'EIDENTITY_SEQUENCE_CORRUPT');
    t.true(err.message.includes(file), 'the message names the file');
    const opened = await t.throwsAsync(SequenceFile.open(dir, log), { instanceOf: IdentityError });
    t.is(opened.code, 'EIDENTITY_SEQUENCE_CORRUPT');
    t.is(await readFile(file, 'utf8'), text, 'and the file is left as it was');
  });
}

test('a state file that cannot be read (a directory in its place) is the typed error too', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, MANIFEST_SEQUENCE_FILE));
  const err = await t.throwsAsync(SequenceFile.open(dir, log), { instanceOf: IdentityError });
  t.is(err.code, 'EIDENTITY_SEQUENCE_CORRUPT');
});

test('raise() only rises, and a burst of raises leaves the highest on disk', async (t) => {
  const dir = await tempDir(t);
  const seq = await SequenceFile.open(dir, log);
  t.true(seq.raise(5));
  t.false(seq.raise(5), 'the same sequence again is no raise');
  t.false(seq.raise(3), 'nor a lower one');
  t.is(seq.value, 5);
  // Raises while the first write is still in flight: the last write is of the highest value.
  for (const n of [9, 7, 12, 8, 11]) seq.raise(n);
  await seq.flushed();
  t.is(seq.value, 12);
  t.is(await loadSequence(join(dir, MANIFEST_SEQUENCE_FILE)), 12);
  t.is((await SequenceFile.open(dir, log)).value, 12, 'a new process reads what the last one accepted');
  t.deepEqual(await readdir(dir), [MANIFEST_SEQUENCE_FILE]);
});

test('a write that fails is counted and logged; the sequence stays enforced in memory', async (t) => {
  const dir = join(await tempDir(t), 'gone');
  const lines: string[] = [];
  const seq = await SequenceFile.open(dir, pino({ level: 'error' }, { write: (l: string) => void lines.push(l) }));
  await rm(dir, { recursive: true });
  const before = await failures();
  t.true(seq.raise(4));
  await seq.flushed();
  t.is(await failures(), before + 1);
  t.is(seq.value, 4);
  t.regex(lines.join(''), /could not persist the accepted manifest sequence/);
});

test('inMemory() keeps the value without touching any file', async (t) => {
  const seq = SequenceFile.inMemory(log);
  t.is(seq.file, undefined);
  t.true(seq.raise(2));
  await seq.flushed();
  t.is(seq.value, 2);
});

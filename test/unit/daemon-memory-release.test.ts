/** When ambitd gives memory back: after a burst of closes, once quiet, rate-limited (daemon/memory-release.ts). */
import test from 'ava';
import { MemoryRelease, type MemoryReleaseIo } from '../../daemon/memory-release.js';

/** A fake clock with timers, and a count of releases. */
function fakeIo(release: () => void = () => undefined) {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  const io: MemoryReleaseIo = {
    now: () => now,
    later: (fn, ms) => {
      const key = ++id;
      timers.set(key, { at: now + ms, fn });
      return () => timers.delete(key);
    },
    release,
  };
  const advance = (ms: number): void => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = until;
  };
  return { io, advance, pending: () => timers.size };
}

const OPTIONS = { minClosed: 3, quietMs: 1_000, minIntervalMs: 10_000 };
const close = (m: MemoryRelease, n: number): void => {
  for (let i = 0; i < n; i++) m.connectionClosed();
};

test('fewer closes than minClosed never release', (t) => {
  const f = fakeIo();
  const m = new MemoryRelease(f.io, OPTIONS);
  close(m, 2);
  f.advance(60_000);
  t.is(m.releases, 0);
  t.is(f.pending(), 0, 'no timer is even armed');
});

test('a burst releases once, quietMs after its last close', (t) => {
  const f = fakeIo();
  const m = new MemoryRelease(f.io, OPTIONS);
  close(m, 5);
  f.advance(500);
  close(m, 1);
  f.advance(999);
  t.is(m.releases, 0, 'each close restarts the quiet period');
  f.advance(1);
  t.is(m.releases, 1);
  f.advance(60_000);
  t.is(m.releases, 1, 'and only once');
});

test('a busy daemon, closing all the time, never pays for a release', (t) => {
  const f = fakeIo();
  const m = new MemoryRelease(f.io, OPTIONS);
  for (let i = 0; i < 100; i++) {
    close(m, 1);
    f.advance(500);
  }
  t.is(m.releases, 0);
});

test('the next burst counts afresh and waits out minIntervalMs', (t) => {
  const f = fakeIo();
  const m = new MemoryRelease(f.io, OPTIONS);
  close(m, 3);
  f.advance(1_000);
  t.is(m.releases, 1);
  close(m, 2);
  f.advance(60_000);
  t.is(m.releases, 1, 'the closes before the release do not count again');
  close(m, 3); // at 61 s: the last release was at 1 s, so only quietMs to wait
  f.advance(1_000);
  t.is(m.releases, 2);
  close(m, 3); // at 62 s: 1 s after a release, due at 72 s
  f.advance(9_999);
  t.is(m.releases, 2);
  f.advance(1);
  t.is(m.releases, 3);
});

test('a release that throws is swallowed and the schedule goes on', (t) => {
  const f = fakeIo(() => {
    throw new Error('no addon');
  });
  const m = new MemoryRelease(f.io, OPTIONS);
  close(m, 3);
  t.notThrows(() => f.advance(1_000));
  t.is(m.releases, 1);
  close(m, 3);
  f.advance(10_000);
  t.is(m.releases, 2);
});

test('stop cancels a pending release', (t) => {
  const f = fakeIo();
  const m = new MemoryRelease(f.io, OPTIONS);
  close(m, 3);
  m.stop();
  f.advance(60_000);
  t.is(m.releases, 0);
  t.is(f.pending(), 0);
});

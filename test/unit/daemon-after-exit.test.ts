/**
 * ExecStopPost's decision (ambitd --after-exit): fail closed by default, so the
 * rules stay after every kind of stop; only capture.failOpen removes them, and
 * then only what a crashed daemon could not remove itself.
 */
import test from 'ava';
import { decideAfterExit } from '../../daemon/after-exit.js';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';

const config = (text = '') => parseDaemonConfig(text, 'ambitd.yaml', { nodeName: 'n', nodeAddress: '10.0.0.1' });
const RESULTS = ['success', 'exit-code', 'signal', 'timeout', 'core-dump', 'watchdog', undefined];
const FAIL_OPEN = 'capture: {failOpen: true}';

for (const result of RESULTS) {
  test(`by default (fail closed) the rules stay after ${result ?? 'a run by hand'}`, (t) => {
    const d = decideAfterExit(result, config());
    t.is(d.action, 'keep');
    t.regex(d.reason, /^fail closed: .*STRICT ports stay closed to plaintext.*the next ambitd adopts them$/);
  });
}

for (const result of ['exit-code', 'signal', 'timeout', 'core-dump', 'watchdog']) {
  test(`failOpen: after ${result} the rules are removed, saying it fails open`, (t) => {
    const d = decideAfterExit(result, config(FAIL_OPEN));
    t.is(d.action, 'remove');
    t.true(d.reason.startsWith(`ambitd ended with ${result}; fail open`), d.reason);
  });
}

test('failOpen: a clean stop leaves nothing to do (the daemon removed them itself)', (t) => {
  const d = decideAfterExit('success', config(FAIL_OPEN));
  t.is(d.action, 'keep');
  t.regex(d.reason, /removed them itself/);
});

test('failOpen: run by hand (no $SERVICE_RESULT) counts as after a crash', (t) => {
  const d = decideAfterExit(undefined, config(FAIL_OPEN));
  t.is(d.action, 'remove');
  t.regex(d.reason, /run by hand/);
});

test('with capture disabled the rules are not ours to touch, fail open or not', (t) => {
  for (const text of ['capture: {enabled: false}', 'capture: {enabled: false, failOpen: true}']) t.is(decideAfterExit('signal', config(text)).action, 'keep');
});

test('unreadable settings fall back to the default, fail closed: removing on a guess is what lets plaintext through', (t) => {
  const d = decideAfterExit('signal', undefined);
  t.is(d.action, 'keep');
  t.regex(d.reason, /settings unreadable.*fail closed/);
});

test('an old file with keepRulesOnExit: false (what ambit install wrote) now fails closed', (t) => {
  t.is(decideAfterExit('signal', config('capture: {keepRulesOnExit: false}')).action, 'keep');
});

/** ExecStopPost's decision: remove the capture rules only after an unclean end, and only as the settings allow. */
import test from 'ava';
import { decideAfterExit } from '../../daemon/after-exit.js';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';

const config = (text = '') => parseDaemonConfig(text, 'ambitd.yaml', { nodeName: 'n', nodeAddress: '10.0.0.1' });

test('a clean stop leaves the rules to the daemon, which already handled them', (t) => {
  t.false(decideAfterExit('success', config()).remove);
});

for (const result of ['exit-code', 'signal', 'timeout', 'core-dump', 'watchdog']) {
  test(`after ${result} the rules are removed by default`, (t) => {
    const d = decideAfterExit(result, config());
    t.true(d.remove);
    t.true(d.reason.includes(result));
  });
}

test('keepRulesOnExit keeps them even after a crash (fail closed)', (t) => {
  const d = decideAfterExit('signal', config('capture: {keepRulesOnExit: true}'));
  t.false(d.remove);
  t.regex(d.reason, /keepRulesOnExit/);
});

test('with capture disabled the rules are not ours to touch', (t) => {
  t.false(decideAfterExit('signal', config('capture: {enabled: false}')).remove);
});

test('unreadable settings fall back to the default and remove', (t) => {
  const d = decideAfterExit('signal', undefined);
  t.true(d.remove);
  t.regex(d.reason, /settings unreadable/);
});

test('run by hand (no $SERVICE_RESULT) counts as after a crash', (t) => {
  t.true(decideAfterExit(undefined, config()).remove);
});

/**
 * capture.failOpen in ambitd.yaml: fail closed unless asked; the key it
 * replaced (keepRulesOnExit) still parses, with a deprecation that says what
 * to write instead, and a contradiction between the two is refused.
 */
import test from 'ava';
import { ConfigErrors } from '../../core/errors.js';
import { parseDaemonSettings } from '../../core/config/daemon-settings.js';
import { failMode } from '../../core/config/fail-mode.js';

const FILE = '/etc/ambit/ambitd.yaml';
const settings = (text: string) => parseDaemonSettings(text, FILE, { nodeName: 'n', nodeAddress: '10.0.0.1' });

test('no capture section: fail closed, no deprecation', (t) => {
  const s = settings('');
  t.false(s.config.capture.failOpen);
  t.is(failMode(s.config.capture).mode, 'fail-closed');
  t.deepEqual(s.deprecations, []);
});

test('failOpen: true fails open, and the summary says plaintext flows', (t) => {
  const s = settings('capture: {failOpen: true}');
  t.true(s.config.capture.failOpen);
  const mode = failMode(s.config.capture);
  t.is(mode.mode, 'fail-open');
  t.regex(mode.summary, /in plaintext, and STRICT ports accept plaintext/);
  t.deepEqual(s.deprecations, []);
});

test('capture.enabled: false is neither: no rules to keep or remove', (t) => {
  t.is(failMode(settings('capture: {enabled: false, failOpen: true}').config.capture).mode, 'no-capture');
});

test('keepRulesOnExit: false, as ambit install wrote it, now fails closed with a deprecation naming failOpen', (t) => {
  const s = settings('capture:\n  enabled: true\n  keepRulesOnExit: false\n');
  t.false(s.config.capture.failOpen);
  t.is(s.deprecations.length, 1);
  t.regex(s.deprecations[0]!, new RegExp(`^${FILE}: capture\\.keepRulesOnExit is deprecated, and its false no longer removes the rules`));
  t.regex(s.deprecations[0]!, /write capture\.failOpen: true to remove the rules on stop and crash as before$/);
});

test('keepRulesOnExit: true asked for what the default does now: fail closed, delete the line', (t) => {
  const s = settings('capture: {keepRulesOnExit: true}');
  t.false(s.config.capture.failOpen);
  t.regex(s.deprecations[0]!, /keeps the rules when ambitd stops, as it asked: delete the line$/);
});

test('with failOpen set too, keepRulesOnExit is ignored (failOpen decides)', (t) => {
  const s = settings('capture: {keepRulesOnExit: false, failOpen: true}');
  t.true(s.config.capture.failOpen);
  t.regex(s.deprecations[0]!, /ignored \(capture\.failOpen decides\)/);
  t.false(settings('capture: {keepRulesOnExit: true, failOpen: false}').config.capture.failOpen);
});

test('keepRulesOnExit: true with failOpen: true contradict each other: refused with file:line', (t) => {
  const err = t.throws(() => settings('logLevel: info\ncapture: {keepRulesOnExit: true, failOpen: true}\n'), { instanceOf: ConfigErrors });
  const [first] = err.errors;
  t.is(first!.code, 'ECONFIG_VALUE');
  t.is(first!.field, 'capture');
  t.is(first!.location?.line, 2);
  t.regex(first!.message, /contradicts failOpen: true .*drop keepRulesOnExit/);
});

test('failOpen must be a boolean', (t) => {
  const err = t.throws(() => settings('capture: {failOpen: "yes"}'), { instanceOf: ConfigErrors });
  t.is(err.errors[0]!.field, 'capture.failOpen');
});

import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseDaemonConfig, parseDaemonSettings } from '../../core/config/daemon-settings.js';

test('configs/ambitd.yaml parses and states exactly the built-in defaults, with nothing deprecated', (t) => {
  const fromFile = parseDaemonSettings(readFileSync('configs/ambitd.yaml', 'utf8'), 'configs/ambitd.yaml', { nodeName: 'n', nodeAddress: '192.0.2.1' });
  const builtIn = parseDaemonConfig('', 'empty.yaml', { nodeName: 'n', nodeAddress: '192.0.2.1' });
  t.deepEqual(fromFile.config, builtIn);
  t.deepEqual(fromFile.deprecations, [], 'what ambit install writes must not warn on the first start');
});

import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';

test('configs/ambitd.yaml parses and states exactly the built-in defaults', (t) => {
  const fromFile = parseDaemonConfig(readFileSync('configs/ambitd.yaml', 'utf8'), 'configs/ambitd.yaml', { nodeName: 'n', nodeAddress: '192.0.2.1' });
  const builtIn = parseDaemonConfig('', 'empty.yaml', { nodeName: 'n', nodeAddress: '192.0.2.1' });
  t.deepEqual(fromFile, builtIn);
});

/** ambitd's settings file: the ports, store and identity directory the other checks judge the host by. */
import { DEFAULT_CONFIG_PATH, loadDaemonConfig } from '../../../core/config/daemon-settings.js';
import { describeTarget } from '../../../core/store/connection.js';
import { ConfigErrors } from '../../../core/errors.js';
import { errorText, fail, ok, type Check } from '../check.js';

export const configCheck: Check = {
  name: 'config',
  run: async (ctx) => {
    const path = ctx.settings.configPath;
    try {
      ctx.config = await loadDaemonConfig(path);
    } catch (err) {
      // All problems of the file in one line: the report has one line per check.
      const detail = err instanceof ConfigErrors ? err.errors.map((e) => e.message).join('; ') : errorText(err);
      return fail(detail, `fix ${path ?? 'the settings file'} (configs/ambitd.yaml documents every field), then restart ambitd`);
    }
    const c = ctx.config;
    const summary = `node ${c.node.name} (${c.node.address}), store ${describeTarget(ctx.storeOptions())}, identity ${c.identity.dir}`;
    // No file is a valid setup (ambitd then runs on defaults too); the line says so in case ambitd was given another file.
    return ok(`${path ?? `no ${DEFAULT_CONFIG_PATH}, built-in defaults`}: ${summary}`);
  },
};

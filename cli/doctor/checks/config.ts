/** ambitd's settings file: the ports, store and identity directory the other checks judge the host by. */
import { DEFAULT_CONFIG_PATH, loadDaemonSettings } from '../../../core/config/daemon-settings.js';
import { describeTarget } from '../../../core/store/connection.js';
import { ConfigErrors } from '../../../core/errors.js';
import { errorText, fail, ok, warn, type Check } from '../check.js';

export const configCheck: Check = {
  name: 'config',
  run: async (ctx) => {
    const path = ctx.settings.configPath;
    let deprecations: string[];
    try {
      ({ config: ctx.config, deprecations } = await loadDaemonSettings(path));
    } catch (err) {
      // All problems of the file in one line: the report has one line per check.
      const detail = err instanceof ConfigErrors ? err.errors.map((e) => e.message).join('; ') : errorText(err);
      return fail(detail, `fix ${path ?? 'the settings file'} (configs/ambitd.yaml documents every field), then restart ambitd`);
    }
    const c = ctx.config;
    const summary = `node ${c.node.name} (${c.node.address}), store ${describeTarget(ctx.storeOptions())}, identity ${c.identity.dir}`;
    // Still valid, so the checks that need the settings run; but the operator should edit the file.
    if (deprecations.length > 0)
      return warn(`${summary}; ${deprecations.join('; ')}`, `edit ${path ?? 'the settings file'} as said, then systemctl reload ambitd`);
    // No file is a valid setup (ambitd then runs on defaults too); the line says so in case ambitd was given another file.
    return ok(`${path ?? `no ${DEFAULT_CONFIG_PATH}, built-in defaults`}: ${summary}`);
  },
};

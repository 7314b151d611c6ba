/** What the whole mesh agrees on, read from the store: the VIP range and the trust bundle (matching this node's trust domain). */
import { errorText, fail, ok, type Check } from '../check.js';

export const meshSettingsCheck: Check = {
  name: 'mesh-settings',
  needs: ['redis'],
  run: async (ctx) => {
    const store = await ctx.store();
    let vipCidr: string;
    try {
      vipCidr = (await store.meshSettings()).vipCidr;
    } catch (err) {
      return fail(
        `cannot read the mesh settings: ${errorText(err)}`,
        'the store holds something ambit cannot read: check that store.keyPrefix matches the other nodes, then `ambit get` it',
      );
    }
    const published = await ctx.publishedBundle();
    if (!published) return fail(`VIP range ${vipCidr}, but the store has no trust bundle`, 'create the mesh CA: ambit ca init (once per mesh)');
    const { trustDomain, roots } = published.bundle;
    const configured = ctx.config.mesh.trustDomain;
    if (trustDomain !== configured) {
      return fail(
        `the store's trust bundle is for trust domain ${trustDomain}, this node is configured for ${configured}`,
        `set mesh.trustDomain: ${trustDomain} in ${ctx.settings.configPath ?? 'the ambitd settings file'} and restart ambitd`,
      );
    }
    return ok(
      `VIP range ${vipCidr}; trust domain ${trustDomain}, ${roots.length} root${roots.length === 1 ? '' : 's'} in the bundle (revision ${published.revision})`,
    );
  },
};

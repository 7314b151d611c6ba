/**
 * The node certificate in the identity directory (what ambitd presents to
 * peers on 15008): this node's, chaining to the trust bundle (the store's when
 * reachable: that is what peers verify against), and not about to expire.
 */
import { certInfo, verifyPeerChain } from '../../../core/identity/index.js';
import { loadNodeIdentity, type NodeIdentity } from '../../../core/identity/client/node-identity.js';
import { IdentityError } from '../../../core/identity/errors.js';
import { errorText, fail, verdict, type Check } from '../check.js';
import { classifyExpiry } from '../cert-expiry.js';

export const nodeCertCheck: Check = {
  name: 'node-cert',
  needs: ['config'],
  run: async (ctx) => {
    const {
      identity: { dir },
      node,
    } = ctx.config;
    const joinAgain = `join again: ambit node join --force --node ${node.name} --dir ${dir} --token T (T from \`ambit node token create --node ${node.name}\`), then restart ambitd`;
    let identity: NodeIdentity;
    try {
      identity = await loadNodeIdentity(dir);
    } catch (err) {
      if (err instanceof IdentityError && err.code === 'EIDENTITY_NOT_JOINED') {
        return fail(
          `this node has not joined the mesh (no node certificate in ${dir})`,
          `create a token (ambit node token create --node ${node.name}) and start ambitd with --token T, or run ambit node join --token T --node ${node.name} --dir ${dir}`,
        );
      }
      return fail(`cannot read the node identity in ${dir}: ${errorText(err)}`, joinAgain);
    }
    if (identity.node !== node.name)
      return fail(`the certificate in ${dir} is for node ${identity.node}, the settings say ${node.name}`, `set node.name: ${identity.node}, or ${joinAgain}`);
    const published = await ctx.publishedBundle();
    const bundle = published?.bundle ?? identity.bundle;
    const against = published ? "the store's trust bundle" : `${dir}/bundle.json (store not reachable)`;
    const info = certInfo(identity.chainPem);
    const now = new Date();
    // Checked at an instant inside the leaf's validity, so expiry is reported as expiry (below), not as distrust.
    const at = new Date(Math.min(Math.max(now.getTime(), info.notBefore.getTime() + 1000), info.notAfter.getTime() - 1000));
    try {
      verifyPeerChain(identity.chainPem, bundle, { now: at });
    } catch (err) {
      return fail(`${identity.spiffeId.uri} does not verify against ${against}: ${errorText(err)}`, joinAgain);
    }
    const expiry = classifyExpiry(info, now, ctx.settings.certWarnSeconds);
    const detail = `${identity.spiffeId.uri} serial ${info.serial}, ${expiry.text}, chains to ${against}`;
    return verdict(
      expiry.status,
      detail,
      `ambitd renews it at half life: check that a signer runs (ambit ca serve, or ambitd --ca) and read the ambitd log; if the node is locked out, ${joinAgain}`,
    );
  },
};

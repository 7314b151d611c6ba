/**
 * Step 5: an AuthorizationPolicy denies productpage's identity access to
 * details. It names only a source principal, so the daemon in front of details
 * (on b) enforces it at L4, without a waypoint; productpage degrades to
 * "details unavailable". Deleting the policy brings details back.
 */
import { metricSum } from '../../../../test/helpers/prometheus-text.js';
import { pageErrors } from '../bookinfo.js';
import type { Step } from '../step.js';

const POLICY = 'deny-details.yaml';
const REQUESTS = 5;
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';

export const authzStep: Step = {
  title: 'An AuthorizationPolicy blocks details (L4, no waypoint)',
  async run(app, n) {
    n.say('The policy denies the identity cluster.local/ns/default/sa/productpage at details. The daemon on b checks');
    n.say("the client certificate's identity when the tunnelled connection arrives, and refuses it.");
    await app.applyFile(POLICY);
    try {
      const tookMs = await app.until(async () => (await app.page()).page.details === null, 20_000);
      n.say(`\nIn force after ${(tookMs / 1000).toFixed(1)} s. The page now:`);
      await app.showPage();
      const denied = await app.pages(REQUESTS);
      const unavailable = denied.filter((r) => r.page.details === null && r.page.reviews !== null).length;
      n.say(
        `  details: ${pageErrors(denied, 'details') || 'answered'}${unavailable === REQUESTS ? '' : `; reviews: ${pageErrors(denied, 'reviews') || 'answered'}`}`,
      );
      n.proof(unavailable === REQUESTS, `${unavailable}/${REQUESTS} pages said "details unavailable" while reviews still answered`);
      const metrics = await app.shell('b', "curl -s http://127.0.0.1:15020/metrics | grep '^ambit_authz_denials_total'");
      const denials = metricSum(metrics.stdout, 'ambit_authz_denials_total', { source_principal: PRODUCTPAGE });
      n.proof(denials >= REQUESTS, `b's daemon counted ${denials} denied connections from productpage (>= ${REQUESTS})`);
    } finally {
      n.say('\nDeleting the policy:');
      await app.deleteFile(POLICY);
    }
    const backMs = await app.until(async () => (await app.page()).page.details !== null, 20_000);
    n.say(`details answers again after ${(backMs / 1000).toFixed(1)} s:`);
    const back = await app.pages(REQUESTS);
    const withDetails = back.filter((r) => r.page.details !== null).length;
    n.proof(withDetails === REQUESTS, `${withDetails}/${REQUESTS} pages showed details once the policy was deleted`);
  },
};

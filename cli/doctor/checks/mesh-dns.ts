/**
 * ambitd's DNS (127.0.0.1:15053, where enrolled services' port 53 is
 * redirected) answers mesh names: a known service's name with its VIP, or,
 * with no service to ask about, an unknown name in the svc zone with an
 * authoritative NXDOMAIN (answered by the mesh, not forwarded upstream).
 */
import { errorText, fail, ok, type Check } from '../check.js';
import { queryUdp, RCODE_NAMES } from '../dns-query.js';

/** One label before "svc": never a service's <name>.<namespace>.svc.<domain>. */
const PROBE_LABEL = 'ambit-doctor-probe';

export const meshDnsCheck: Check = {
  name: 'mesh-dns',
  needs: ['ambitd'],
  run: async (ctx) => {
    const { ports, mesh } = ctx.config;
    const store = await ctx.store().catch(() => undefined);
    const service = store ? (await store.listServices()).find((s) => s.vip) : undefined;
    const name = service ? `${service.name}.${service.namespace}.svc.${mesh.domain}` : `${PROBE_LABEL}.svc.${mesh.domain}`;
    let reply;
    try {
      reply = await queryUdp('127.0.0.1', ports.dns, name, ctx.settings.probeTimeoutMs);
    } catch (err) {
      return fail(`127.0.0.1:${ports.dns} did not answer ${name}: ${errorText(err)}`, 'see the listeners check: ambitd must hold the DNS port; restart ambitd');
    }
    const rcode = RCODE_NAMES[reply.rcode] ?? `rcode ${reply.rcode}`;
    const took = `${reply.rttMs.toFixed(1)} ms`;
    if (service) {
      if (reply.addresses.includes(service.vip!)) return ok(`${name} -> ${service.vip} in ${took}`);
      return fail(
        `${name} -> ${reply.addresses.join(', ') || rcode}, expected its VIP ${service.vip}`,
        'ambitd has not caught up with the store: see the redis check, then restart ambitd if it persists',
      );
    }
    if (reply.rcode === 3 && reply.authoritative) return ok(`answers for ${mesh.domain} (${name}: authoritative NXDOMAIN in ${took}; no service to look up)`);
    return fail(
      `${name} -> ${rcode}${reply.authoritative ? '' : ', not authoritative'}: the mesh zone is not answered by ambitd`,
      `check mesh.domain in ${ctx.settings.configPath ?? 'the settings file'} and that ambitd holds 127.0.0.1:${ports.dns}`,
    );
  },
};

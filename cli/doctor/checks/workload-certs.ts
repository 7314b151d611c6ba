/**
 * The workload certificates ambitd holds for the services enrolled here (from
 * its admin API /certs): each one present, unexpired, not past its renewal,
 * and issued under a root of the trust bundle (matched through the signer's
 * issue records, which name the root each certificate chains to).
 */
import type { CertStatus } from '../../../core/identity/client/cert-manager.js';
import { rootFingerprint } from '../../../core/identity/index.js';
import type { IssuedRecord } from '../../../core/identity/store/issued.js';
import { verdict, type Check } from '../check.js';
import { classifyExpiry } from '../cert-expiry.js';

type Status = 'OK' | 'WARN' | 'FAIL';

export interface CertFinding {
  spiffeId: string;
  status: Status;
  text: string;
  fix?: string;
}

const SIGNER = 'make sure a signer runs (ambit ca serve, or ambitd --ca on one host) and read the ambitd log';

/** Verdict on one certificate; `issued` and `roots` are undefined when the store could not be asked. */
export function judgeWorkloadCert(
  cert: CertStatus,
  now: Date,
  warnSeconds: number | undefined,
  issued?: readonly IssuedRecord[],
  roots?: ReadonlySet<string>,
): CertFinding {
  const id = cert.spiffeId;
  const lastError = cert.lastError ? ` (last error: ${cert.lastError})` : '';
  if (cert.state === 'pending' || !cert.notAfter)
    return { spiffeId: id, status: 'FAIL', text: `no certificate yet${lastError}: its outbound connections fail`, fix: SIGNER };
  const expiry = classifyExpiry({ notBefore: cert.notBefore ? new Date(cert.notBefore) : undefined, notAfter: new Date(cert.notAfter) }, now, warnSeconds);
  if (expiry.status !== 'OK') return { spiffeId: id, status: expiry.status, text: `${expiry.text}${lastError}`, fix: SIGNER };
  if (!issued || !roots) return { spiffeId: id, status: 'OK', text: `${expiry.text} (root not checked: no store)` };
  const record = issued.find((r) => r.spiffeId === id);
  if (!record)
    return {
      spiffeId: id,
      status: 'WARN',
      text: `${expiry.text}, but the signer has no record of it`,
      fix: 'restart ambitd so it requests a fresh certificate from the current signer',
    };
  if (record.serial !== cert.serial) {
    return {
      spiffeId: id,
      status: 'WARN',
      text: `${expiry.text}, but the signer's latest certificate is serial ${record.serial}, ambitd holds ${cert.serial ?? '?'}`,
      fix: 'ambitd picks up a new one at its next renewal; if this persists, restart ambitd',
    };
  }
  if (!roots.has(record.root)) {
    return {
      spiffeId: id,
      status: 'FAIL',
      text: `${expiry.text}, but issued under root ${record.root.slice(0, 11)}…, which is not in the trust bundle: peers refuse it`,
      fix: 'restart ambitd so it requests certificates under the current root',
    };
  }
  return { spiffeId: id, status: 'OK', text: `${expiry.text}, chains to the trust bundle` };
}

const RANK: Record<Status, number> = { OK: 0, WARN: 1, FAIL: 2 };

export const workloadCertsCheck: Check = {
  name: 'workload-certs',
  needs: ['ambitd'],
  run: async (ctx) => {
    const reply = await ctx.admin<CertStatus[]>('/certs');
    const certs = (Array.isArray(reply.body) ? reply.body : []).filter((c) => c.kind === 'workload');
    if (certs.length === 0) return { status: 'OK', detail: 'none held: no service enrolled on this node' };
    const store = await ctx.store().catch(() => undefined);
    const published = await ctx.publishedBundle();
    const issued = store ? await (await import('../../../core/identity/store/issued.js')).listIssued(store, { node: ctx.config.node.name }) : undefined;
    const roots = published ? new Set(published.bundle.roots.map(rootFingerprint)) : undefined;
    const now = new Date();
    const findings = certs.map((c) => judgeWorkloadCert(c, now, ctx.settings.certWarnSeconds, issued, roots));
    const worst = findings.reduce((a, b) => (RANK[b.status] > RANK[a.status] ? b : a));
    const shown = worst.status === 'OK' ? findings : findings.filter((f) => f.status !== 'OK');
    const detail = `${certs.length} held; ${shown.map((f) => `${f.spiffeId}: ${f.text}`).join('; ')}`;
    return verdict(worst.status, detail, worst.fix ?? '');
  },
};

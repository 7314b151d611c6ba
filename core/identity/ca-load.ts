import { earliestNotAfter, type SigningCA } from './ca.js';
import { isSelfSigned, isSigningCA, issuedBy, parseCert, parseCertChain, spiffeIdFromSan, type ParsedCert } from './certs.js';
import { IdentityError } from './errors.js';
import { readTextFile, writeFileSecure } from './files.js';
import { importPrivateKeyPem, publicKeySpki, writeKeyFile } from './keys.js';
import { DEFAULT_TRUST_DOMAIN } from './spiffe.js';
import { timeProblem } from './validity.js';
import { x509 } from './x509.js';

export interface LoadCAOptions {
  /** The signing certificate; may be followed by its chain in the same text (a cert-chain.pem). */
  certPem: string;
  keyPem: string;
  /** Further intermediates, signer side first. */
  chainPem?: string;
  /** The trust anchor. Optional when the chain ends in a self-signed cert. */
  rootPem?: string;
  /** Defaults to the signer's `spiffe://<td>` SAN, else cluster.local. */
  trustDomain?: string;
  now?: Date;
}

/**
 * Loads an existing CA (ambit's own, or an operator's for plug-in CA) and
 * checks everything that would otherwise surface later as unverifiable
 * leaves: that the key belongs to the cert, that the cert may sign, that
 * the chain links to the root, and that nothing on it has expired.
 */
export async function loadCA(options: LoadCAOptions): Promise<SigningCA> {
  const now = options.now ?? new Date();
  const certs = [...parseCertChain(options.certPem, 'CA certificate'), ...parseCertChain(options.chainPem ?? '', 'CA chain')];
  const signer = certs[0];
  if (!signer) throw new IdentityError('EIDENTITY_BAD_PEM', 'CA certificate: no PEM certificate found', {});
  const keys = await importPrivateKeyPem(options.keyPem);
  if (!Buffer.from(signer.cert.publicKey.rawData).equals(await publicKeySpki(keys.publicKey))) {
    throw new IdentityError(
      'EIDENTITY_KEY_MISMATCH',
      `the CA private key does not belong to the CA certificate (${signer.cert.subject}); check that the two files are a pair`,
      { subject: signer.cert.subject },
    );
  }
  const { chain, root } = splitRoot(certs, options.rootPem);
  for (const c of [...chain, root]) checkCA(c, now);
  checkLinks([...chain, root]);
  const trustDomain = options.trustDomain ?? signerTrustDomain(signer) ?? DEFAULT_TRUST_DOMAIN;
  const own = signerTrustDomain(signer);
  if (own !== undefined && own !== trustDomain) {
    throw new IdentityError('EIDENTITY_WRONG_TRUST_DOMAIN', `the CA certificate names trust domain ${own}, not ${trustDomain}`, {
      certificate: own,
      trustDomain,
    });
  }
  return { trustDomain, signer, keys, chain, root, notAfter: earliestNotAfter([...chain, root]) };
}

/** Separates the anchor from the certificates that are sent along with leaves. */
function splitRoot(certs: ParsedCert[], rootPem: string | undefined): { chain: ParsedCert[]; root: ParsedCert } {
  if (rootPem !== undefined) {
    const root = parseCert(rootPem, 'root CA');
    return { chain: certs.filter((c) => !c.der.equals(root.der)), root };
  }
  const last = certs[certs.length - 1]!;
  if (!isSelfSigned(last)) {
    throw new IdentityError(
      'EIDENTITY_CHAIN_BROKEN',
      `the CA chain ends at ${last.cert.subject}, issued by ${last.cert.issuer}, which is not included; pass the root certificate`,
      { issuer: last.cert.issuer },
    );
  }
  return { chain: certs.length === 1 ? [] : certs.slice(0, -1), root: last };
}

function checkCA(c: ParsedCert, now: Date): void {
  if (!isSigningCA(c)) {
    throw new IdentityError('EIDENTITY_NOT_CA', `${c.cert.subject} is not a CA certificate (needs basicConstraints CA:TRUE and keyUsage keyCertSign)`, {
      subject: c.cert.subject,
    });
  }
  const problem = timeProblem(c.cert.notBefore, c.cert.notAfter, now);
  if (problem) {
    throw new IdentityError('EIDENTITY_CA_EXPIRED', `CA certificate ${c.cert.subject} ${problem}`, {
      subject: c.cert.subject,
      notBefore: c.cert.notBefore.toISOString(),
      notAfter: c.cert.notAfter.toISOString(),
    });
  }
}

function checkLinks(path: ParsedCert[]): void {
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i]!;
    const parent = path[i + 1]!;
    if (!issuedBy(child, parent)) {
      throw new IdentityError(
        'EIDENTITY_CHAIN_BROKEN',
        `${child.cert.subject} was not issued by ${parent.cert.subject}; check the order and contents of the chain`,
        { child: child.cert.subject, parent: parent.cert.subject },
      );
    }
  }
}

function signerTrustDomain(c: ParsedCert): string | undefined {
  const san = c.cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return undefined;
  try {
    return spiffeIdFromSan(san, 'CA certificate').trustDomain;
  } catch {
    // An operator's root may carry other URIs; only a SPIFFE one names a trust domain.
    return undefined;
  }
}

export interface CAFiles {
  certFile: string;
  keyFile: string;
  chainFile?: string;
  rootFile?: string;
}

export async function loadCAFiles(files: CAFiles, options: { trustDomain?: string; now?: Date } = {}): Promise<SigningCA> {
  return loadCA({
    certPem: await readTextFile(files.certFile, 'CA certificate'),
    keyPem: await readTextFile(files.keyFile, 'CA private key'),
    ...(files.chainFile ? { chainPem: await readTextFile(files.chainFile, 'CA chain') } : {}),
    ...(files.rootFile ? { rootPem: await readTextFile(files.rootFile, 'root CA') } : {}),
    ...options,
  });
}

/**
 * Writes a CA so loadCAFiles reads it back: the key 0600, certificates 0644
 * (they are public). certFile holds the signer followed by its chain.
 */
export async function writeCAFiles(ca: SigningCA, files: CAFiles, options: { overwrite?: boolean } = {}): Promise<void> {
  const overwrite = options.overwrite ?? false;
  await writeKeyFile(files.keyFile, ca.keys.privateKey, { overwrite });
  const signerAndChain = ca.chain.length === 0 ? [ca.signer] : ca.chain;
  await writeFileSecure(files.certFile, signerAndChain.map((c) => c.pem).join(''), { mode: 0o644, overwrite });
  if (files.rootFile) await writeFileSecure(files.rootFile, ca.root.pem, { mode: 0o644, overwrite });
}

/**
 * `ambit ca init|serve|rotate|show|bundle`: the mesh CA. Everything that loads
 * @peculiar/x509 is imported inside the actions, so `ambit --help` does not.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import type { CASource } from '../../core/identity/ca-dir.js';
import type { StoreOptions } from '../../core/store/types.js';
import { parseDurationSeconds } from '../duration.js';
import { outputOption, renderJson } from '../output.js';
import { storeOptions, withStore } from '../store-client.js';

const DEFAULT_CA_DIR = '/etc/ambit/ca';

interface SourceFlags {
  trustDomain?: string;
  rootCert?: string;
  rootKey?: string;
  caCert?: string;
  caKey?: string;
}

function sourceFrom(opts: SourceFlags): CASource {
  if ((opts.rootKey || (opts.rootCert && !opts.caCert)) && (opts.caCert || opts.caKey)) {
    throw new UsageError('use either --root-cert/--root-key (ambit makes an intermediate) or --ca-cert/--ca-key [--root-cert] (your intermediate), not both');
  }
  const source: CASource = {};
  for (const k of ['trustDomain', 'rootCert', 'rootKey', 'caCert', 'caKey'] as const) if (opts[k]) source[k] = opts[k];
  return source;
}

function pluginOptions(cmd: Command): Command {
  return cmd
    .option('--root-cert <file>', "plug-in CA: the operator's root certificate")
    .option('--root-key <file>', "plug-in CA: the operator's root key (ambit creates and signs with an intermediate under it)")
    .option('--ca-cert <file>', 'plug-in CA: an intermediate CA certificate (with its chain) to sign with directly')
    .option('--ca-key <file>', "plug-in CA: that intermediate's key");
}

function fp(fingerprint: string): string {
  return `${fingerprint.slice(0, 23)}…`;
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the mesh certificate authority: create, serve, rotate');

  pluginOptions(
    ca
      .command('init')
      .description('create the mesh CA (or plug in yours) and publish its trust bundle')
      .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
      .option('--ca-dir <dir>', 'where the CA certificate and key (0600) are written', DEFAULT_CA_DIR)
      .option('--force', 'replace an existing CA and trust bundle', false),
  ).action(async (opts: SourceFlags & { caDir: string; force: boolean }, cmd: Command) => {
    const { initCA } = await import('../../core/identity/ca-admin.js');
    const source = sourceFrom(opts);
    const { operatorDir } = await import('./operator.js');
    const out = await withStore(cmd, (store) => initCA(store, opts.caDir, source, { force: opts.force, operatorDir: operatorDir(cmd, opts.caDir) }));
    const kind = out.ca.chain.length === 0 ? 'root CA' : `intermediate CA under ${out.ca.root.cert.subject}`;
    process.stdout.write(
      `created ${kind} for trust domain ${out.ca.trustDomain} in ${opts.caDir} (expires ${out.ca.notAfter.toISOString()})\n` +
        `root fingerprint (SHA-256) ${out.ca.root.native.fingerprint256}: join tokens carry it; give it to nodes out of band too (ambit node join --root-fingerprint, identity.rootFingerprint); \`ambit ca show\` prints it again\n` +
        `published the trust bundle (revision ${out.revision}); next: ambit ca serve --ca-dir ${opts.caDir}\n` +
        `operator ${out.operator?.spiffeId.uri ?? '?'} in ${out.operatorDir ?? '?'}: \`ambit apply\` and \`ambit enroll\` sign with it\n`,
    );
  });

  ca.command('serve')
    .description('sign node and workload certificates requested through the store (runs until SIGTERM)')
    .option('--ca-dir <dir>', 'the CA directory', DEFAULT_CA_DIR)
    .option('--node-cert-ttl <duration>', 'node certificate lifetime', '7d')
    .option('--workload-cert-ttl <duration>', 'workload certificate lifetime', '24h')
    .option('--store-credentials <file>', "the signer's store credentials (default: signer.json from ambit store init, when this host has it)")
    .action(async (opts: { caDir: string; nodeCertTtl: string; workloadCertTtl: string; storeCredentials?: string }, cmd: Command) => {
      const nodeCertTtlSeconds = parseDurationSeconds(opts.nodeCertTtl, '--node-cert-ttl');
      const workloadCertTtlSeconds = parseDurationSeconds(opts.workloadCertTtl, '--workload-cert-ttl');
      const [{ Store }, { startSigner }] = await Promise.all([import('../../core/store/index.js'), import('../../core/identity/signer/index.js')]);
      // A server outlives Redis restarts: retry forever instead of failing fast like other commands.
      // With roles the signer is its own Redis user, never the operator.
      const { DEFAULT_CREDENTIALS_DIR, SIGNER_CREDENTIALS, readCredentials } = await import('../../core/access/credentials.js');
      const byDefault = join(DEFAULT_CREDENTIALS_DIR, SIGNER_CREDENTIALS);
      const signerFile = opts.storeCredentials ?? (existsSync(byDefault) ? byDefault : undefined);
      const options: StoreOptions = {
        ...storeOptions(cmd.optsWithGlobals<{ redis: string }>().redis),
        ...(signerFile ? await readCredentials(signerFile) : {}),
        retryForever: true,
        connectionName: 'ambit-ca',
      };
      const store = await Store.connect(options);
      let signer;
      try {
        signer = await startSigner({ store, caDir: opts.caDir, nodeCertTtlSeconds, workloadCertTtlSeconds });
      } catch (err) {
        await store.close();
        throw err;
      }
      process.stderr.write(`signing for ${signer.ca.trustDomain} with ${signer.ca.signer.cert.subject}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      await signer.stop();
      await store.close();
    });

  pluginOptions(
    ca
      .command('rotate')
      .description('start a root rotation (bundle = old + new root), or end it with --finish')
      .option('--ca-dir <dir>', 'the CA directory', DEFAULT_CA_DIR)
      .option('--finish', 'drop the old root from the bundle', false)
      .option('--force', 'with --finish: even if certificates under the old root are still live', false),
  ).action(async (opts: SourceFlags & { caDir: string; finish: boolean; force: boolean }, cmd: Command) => {
    const { finishRotation, rotateCA } = await import('../../core/identity/ca-admin.js');
    if (opts.finish) {
      const out = await withStore(cmd, (store) => finishRotation(store, opts.caDir, { force: opts.force }));
      process.stdout.write(
        `removed root ${out.removed.map(fp).join(', ')}; the bundle holds only ${fp(out.ca.root.native.fingerprint256)} (revision ${out.revision})\n` +
          `nodes joining from now pin root ${out.ca.root.native.fingerprint256} (new tokens carry it; \`ambit ca show\`)\n`,
      );
      return;
    }
    const source = sourceFrom(opts);
    const { operatorDir } = await import('./operator.js');
    const out = await withStore(cmd, (store) => rotateCA(store, opts.caDir, source, { operatorDir: operatorDir(cmd, opts.caDir) }));
    process.stdout.write(
      `new root ${fp(out.ca.root.native.fingerprint256)}; the bundle holds old and new roots (revision ${out.revision})\n` +
        `signers now issue under the new root and nodes renew at once; when \`ambit certs\` shows no certificate under ${fp(out.previous.root.native.fingerprint256)}, run: ambit ca rotate --finish\n` +
        `until then nodes joining pin the old root ${out.previous.root.native.fingerprint256}, which signed this bundle (new tokens carry it; \`ambit ca show\`)\n`,
    );
  });

  ca.command('show')
    .description('print the mesh root and its SHA-256 fingerprint, from the CA directory: what a joining node pins (--root-fingerprint)')
    .option('--ca-dir <dir>', 'the CA directory', DEFAULT_CA_DIR)
    .addOption(outputOption(['table', 'json']))
    .action(async (opts: { caDir: string; output: string }) => {
      const { describeCA } = await import('../../core/identity/ca-show.js');
      const shown = await describeCA(opts.caDir);
      if (opts.output === 'json') return void process.stdout.write(renderJson(shown));
      const lines = [
        `trust domain:     ${shown.trustDomain}`,
        `signing CA:       ${shown.signer}`,
        `root:             ${shown.root.subject} (expires ${shown.root.notAfter})`,
        `root fingerprint: ${shown.root.fingerprint}`,
        ...(shown.previous
          ? [
              `previous root:    ${shown.previous.subject} (expires ${shown.previous.notAfter}), rotation under way`,
              `previous fingerprint: ${shown.previous.fingerprint}`,
            ]
          : []),
        `pin to join:      ${shown.pin}  (ambit node join --root-fingerprint, ambitd identity.rootFingerprint)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  ca.command('bundle')
    .description(
      "print the trust bundle (all roots, PEM), once its signature checks out against the operator's roots.pem, the CA directory, or --root-fingerprint",
    )
    .addOption(outputOption(['pem', 'json']))
    .option('--root-fingerprint <sha256>', 'check the bundle against this root (from `ambit ca show`): for a host with neither the operator key nor the CA')
    .option('--ca-dir <dir>', "the CA directory, when this host has no operator key's roots.pem", DEFAULT_CA_DIR)
    .action(async (opts: { output: string; rootFingerprint?: string; caDir: string }, cmd: Command) => {
      const [{ bundlePem, serializeBundle }, { trustedBundle }] = await Promise.all([
        import('../../core/identity/bundle.js'),
        import('../../core/identity/store/trusted-bundle.js'),
      ]);
      const { operatorDir } = await import('./operator.js');
      // The store's plain bundle field is only the store's word: what is printed here goes into CAfiles.
      const bundle = await withStore(cmd, (store) =>
        trustedBundle(store, {
          operatorDir: operatorDir(cmd, opts.caDir),
          caDir: opts.caDir,
          ...(opts.rootFingerprint ? { rootFingerprint: opts.rootFingerprint } : {}),
        }),
      );
      process.stdout.write(opts.output === 'pem' ? bundlePem(bundle) : `${serializeBundle(bundle)}\n`);
    });
}

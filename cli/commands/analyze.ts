import { Option, type Command } from 'commander';
import { withStore } from '../store-client.js';
import { readLiveMesh } from '../live-mesh.js';
import { readSources } from '../inputs.js';
import { outputFormat, outputOption, renderData } from '../output.js';
import { EXIT_FAILURE } from '../errors.js';
import { atLeast, SEVERITIES, type Severity } from '../analyze/findings.js';
import { collect } from './apply.js';

interface AnalyzeOptions {
  filename: string[];
  namespace?: string;
  output: string;
  failOn: Lowercase<Severity>;
  trustDomain?: string;
  domain: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('check the applied config (and files about to be applied) against the live mesh; exits 1 when it finds errors')
    .option('-f, --filename <path>', 'also check these files, directories or - (stdin) as if applied (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'only findings in this namespace; the namespace of documents that name none (default: all namespaces; documents: default)')
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at least this severe').choices(SEVERITIES.map((s) => s.toLowerCase())).default('error'),
    )
    .option('--trust-domain <td>', "SPIFFE trust domain principals are checked in (default: the store's trust bundle's)")
    .option('--domain <domain>', 'mesh DNS domain short names resolve into', 'cluster.local')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: AnalyzeOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      const files = opts.filename.length > 0 ? await readSources(opts.filename, opts.namespace ?? 'default') : [];
      const names = { domain: opts.domain, ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}) };
      const mesh = await withStore(cmd, (store) =>
        readLiveMesh(
          store,
          names,
          files.map((f) => f.resource),
        ),
      );
      const { analyze } = await import('../analyze/analyze.js');
      const findings = analyze({ mesh, files, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}) });
      if (format !== 'table') process.stdout.write(await renderData(findings, format));
      else process.stdout.write((await import('../analyze/render.js')).renderFindings(findings));
      const threshold = SEVERITIES.find((s) => s.toLowerCase() === opts.failOn) ?? 'Error';
      if (findings.some((f) => atLeast(f.severity, threshold))) process.exitCode = EXIT_FAILURE;
    });
}

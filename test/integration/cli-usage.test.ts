/**
 * The CLI's contract with scripts, run as a user runs it: exit 0 when done, 1
 * when a well-formed command fails, 2 when the command line or its input is
 * wrong (commander's own usage errors included), with one clear line on stderr.
 */
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ambit } from '../helpers/cli.js';

const execFileAsync = promisify(execFile);

// No store is needed (nor reached) for any of these: a dead port makes sure of it.
const run = (args: string[], stdin?: string) =>
  ambit(args, { redis: 'redis://127.0.0.1:1', env: { AMBIT_REDIS_TIMEOUT_MS: '1500' }, ...(stdin !== undefined ? { stdin } : {}) });

test('usage errors from the command line exit 2 with the problem on stderr', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--frobnicate'], /^error: unknown option '--frobnicate'/],
    [['get'], /^error: missing required argument 'kind'/],
    [['enroll', 'reviews'], /^error: required option '-p, --port <port>' not specified/],
    [['enroll', 'reviews', '--port'], /^error: option '-p, --port <port>' argument missing/],
    [['frobnicate'], /^error: unknown command 'frobnicate'/],
    [['version', 'extra'], /^error: too many arguments for 'version'/],
    [['node'], /^Usage: ambit node /],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
  }
});

test('help and --version exit 0', async (t) => {
  for (const args of [['--help'], ['-V'], ['get', '--help'], ['help', 'enroll']]) {
    const r = await run(args);
    t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    t.not(r.stdout, '', args.join(' '));
  }
});

test('a well-formed command that fails at run time exits 1', async (t) => {
  const r = await run(['get', 'vs']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^error: .*redis:\/\/127\.0\.0\.1:1/);
});

test('every -o refuses a format it does not print: exit 2 before anything runs, naming the ones it does', async (t) => {
  const commands: [string[], string][] = [
    [['version'], 'text or json'],
    [['get', 'vs'], 'table, json or yaml'],
    [['tunnels'], 'table, json or yaml'],
    [['certs'], 'table, json or yaml'],
    [['ca', 'show'], 'table or json'],
    [['ca', 'bundle'], 'pem or json'],
    [['doctor'], 'table, json or yaml'],
    [['waypoint', 'list'], 'table, json or yaml'],
    [['node', 'list'], 'table, json or yaml'],
    [['analyze'], 'table, json or yaml'],
    [['explain', 'productpage', 'reviews'], 'table, json or yaml'],
  ];
  for (const [args, formats] of commands) {
    const r = await run([...args, '-o', 'xml']);
    t.is(r.code, 2, args.join(' '));
    t.true(r.stderr.startsWith(`error: option '-o, --output <format>' argument 'xml' is invalid. unknown output format "xml": use ${formats}\n`), r.stderr);
    t.is(r.stdout, '');
  }
  // kubectl's `wide` is a table where there is one.
  t.is((await run(['get', 'vs', '-o', 'wide'])).code, 1, 'accepted (and then the dead store fails it)');
});

test('apply with nothing to apply is an error (exit 2) saying what it expected, not a silent success', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-apply-empty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, '# nothing yet\n---\n');
  mkdirSync(join(dir, 'no-yaml'));
  writeFileSync(join(dir, 'no-yaml', 'README.md'), 'not config\n');
  const cases: [string[], string | undefined, RegExp][] = [
    [['apply'], undefined, /^error: nothing to apply: give -f FILE, -f DIR or -f - \(standard input\) with Istio or ambit YAML\n$/],
    [
      ['apply', '-f', empty],
      undefined,
      /^error: .*empty\.yaml: no resources found: expected Istio or ambit YAML documents \(apiVersion, kind, metadata, spec\)\n$/,
    ],
    [['apply', '-f', '-'], '', /^error: <stdin>: no resources found: expected Istio or ambit YAML/],
    [['apply', '-f', join(dir, 'no-yaml')], undefined, /^error: .*no-yaml: a directory without \*\.yaml, \*\.yml or \*\.json files/],
    [['apply', '--dry-run', '-f', empty], undefined, /no resources found/],
    [['delete', '-f', empty], undefined, /no resources found/],
  ];
  for (const [args, stdin, message] of cases) {
    const r = await run(args, stdin);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
    t.is(r.stdout, '');
  }
});

test('did you mean: a mistyped kind, command or option is answered with the closest name', async (t) => {
  const cases: [string[], RegExp][] = [
    [['get', 'virtualservise'], /^error: unknown kind "virtualservise" \(did you mean virtualservice\?\); known kinds: VirtualService, /],
    [['get', 'nodse'], /\(did you mean node or nodes\?\)/],
    [['delete', 'destinatonrule', 'x'], /\(did you mean destinationrule\?\)/],
    [['get', 'gateway'], /^error: unknown kind "gateway"; known kinds: /],
    [['enrol'], /^error: unknown command 'enrol'\n\(Did you mean enroll\?\)/],
    [['node', 'lst'], /\(Did you mean list\?\)/],
    [['get', 'vs', '--namespac', 'x'], /\(Did you mean --namespace\?\)/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
  }
});

/** What the generated script completes for the words after `ambit` (the last one being completed), in a real shell. */
async function completions(shell: 'bash' | 'zsh', words: string[]): Promise<string[]> {
  const script = await run(['completion', shell]);
  if (script.code !== 0) throw new Error(script.stderr);
  const all = ['ambit', ...words].map((w) => `'${w}'`).join(' ');
  const driver =
    shell === 'bash'
      ? `COMP_WORDS=(${all}); COMP_CWORD=${words.length}; _ambit; printf '%s\\n' "\${COMPREPLY[@]}"`
      : // Outside a completion widget, words and CURRENT are plain variables, and the completion builtins are stand-ins that print.
        `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _describe() { print -l -- "\${(@)\${(@P)2}%%:*}"; }; _files() { print -- '<files>'; }
words=(${all}); CURRENT=${words.length + 1}; _ambit`;
  const { stdout } = await execFileAsync(shell, ['-c', `${script.stdout}\n${driver}`]);
  return stdout.split('\n').filter(Boolean);
}

const hasZsh = spawnSync('zsh', ['-c', 'true']).status === 0;

for (const shell of ['bash', 'zsh'] as const) {
  (shell === 'zsh' && !hasZsh ? test.skip : test)(`completion ${shell}: commands, subcommands, options and -o choices from the command tree`, async (t) => {
    const top = await completions(shell, ['']);
    for (const name of ['apply', 'get', 'enroll', 'unenroll', 'node', 'waypoint', 'version', 'completion', 'help'])
      t.true(top.includes(name), `${name} in ${top.join(' ')}`);
    t.deepEqual(await completions(shell, ['node', '']), ['token', 'join', 'list', 'remove', 'help']);
    t.deepEqual(await completions(shell, ['node', 'token', '']), ['create', 'help']);
    // An option's value is skipped on the way to the command path, global options included.
    t.deepEqual(await completions(shell, ['--redis', 'redis://h:1', 'node', 'token', '']), ['create', 'help']);
    const get = await completions(shell, ['get', '--']);
    for (const flag of ['--namespace', '--all-namespaces', '--output', '--redis', '--debug', '--help'])
      t.true(get.includes(flag), `${flag} in ${get.join(' ')}`);
    const enroll = await completions(shell, ['enroll', 'reviews', '--']);
    for (const flag of ['--port', '--node', '--allow-unknown-node']) t.true(enroll.includes(flag), flag);
    t.false(enroll.includes('--all-nodes'), "unenroll's option is not enroll's");
    if (shell === 'bash') {
      t.deepEqual(await completions(shell, ['no']), ['node']);
      t.deepEqual(await completions(shell, ['get', 'vs', '-n', 'x', '-o', 'j']), ['json']);
      t.deepEqual(await completions(shell, ['version', '-o', '']), ['text', 'json']);
    } else {
      t.deepEqual(await completions(shell, ['get', 'vs', '-n', 'x', '-o', '']), ['table', 'json', 'yaml']);
      t.deepEqual(await completions(shell, ['apply', '-f', '']), ['<files>']);
    }
  });
}

test('completion refuses a shell it does not generate for', async (t) => {
  const r = await run(['completion', 'fish']);
  t.is(r.code, 2);
  t.regex(r.stderr, /^error: unknown shell "fish": use bash or zsh/);
});

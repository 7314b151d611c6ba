/**
 * The demo's voice on the terminal: step headings, what a step does, the
 * commands it runs (as the user would type them), their output, progress
 * while it waits, and PROOF lines, which it counts: the demo's exit status is
 * whether every proof held.
 */
import { createInterface } from 'node:readline/promises';

export interface NarratorOptions {
  /** Pause before each step until Enter is pressed (only meaningful on a terminal). */
  interactive: boolean;
  out?: NodeJS.WriteStream;
}

export class Narrator {
  readonly #out: NodeJS.WriteStream;
  readonly #interactive: boolean;
  readonly #color: boolean;
  #passed = 0;
  #failed: string[] = [];
  #progressOpen = false;

  constructor(options: NarratorOptions) {
    this.#out = options.out ?? process.stdout;
    this.#interactive = options.interactive;
    this.#color = Boolean(this.#out.isTTY) && !process.env.NO_COLOR;
  }

  get passed(): number {
    return this.#passed;
  }

  get failed(): readonly string[] {
    return this.#failed;
  }

  heading(text: string): void {
    this.#line(`\n${this.#paint('1', `=== ${text} ===`)}`);
  }

  say(text: string): void {
    this.#line(text);
  }

  /** A command as the user would type it, on the host it runs on. */
  command(host: string, commandLine: string): void {
    this.#line(this.#paint('36', `  [${host}]$ ${commandLine}`));
  }

  /** A command's output, indented under it. */
  output(text: string): void {
    const body = text.replace(/\n+$/, '');
    if (body)
      this.#line(
        body
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n'),
      );
  }

  /** One measured fact that either holds or does not. */
  proof(ok: boolean, text: string): void {
    if (ok) this.#passed++;
    else this.#failed.push(text);
    this.#line(ok ? this.#paint('32', `PROOF ok: ${text}`) : this.#paint('31', `PROOF FAIL: ${text}`));
  }

  /** A dot per unit of progress while waiting; the next line closes it. */
  tick(mark = '.'): void {
    this.#out.write(mark);
    this.#progressOpen = true;
  }

  /** Waits for `work`, printing a dot a second meanwhile, so a long wait does not look like a hang. */
  async ticking<T>(work: Promise<T>): Promise<T> {
    const timer = setInterval(() => this.tick(), 1000);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  async pause(): Promise<void> {
    if (!this.#interactive) return;
    const rl = createInterface({ input: process.stdin, output: this.#out });
    // On a terminal readline takes Ctrl-C for itself; pass it on, so it still ends (and cleans up) the demo.
    rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
    await rl.question(this.#paint('2', '\n(press Enter for the next step) '));
    rl.close();
  }

  #line(text: string): void {
    if (this.#progressOpen) this.#out.write('\n');
    this.#progressOpen = false;
    this.#out.write(`${text}\n`);
  }

  #paint(code: string, text: string): string {
    return this.#color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

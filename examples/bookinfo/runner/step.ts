/** One step of the walkthrough: a title, then what it shows and proves. */
import type { Bookinfo } from './bookinfo.js';
import type { Narrator } from './narrator.js';

export interface Step {
  title: string;
  run(app: Bookinfo, n: Narrator): Promise<void>;
}

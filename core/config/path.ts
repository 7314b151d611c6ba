/**
 * Field paths as users read them in messages (`spec.http[0].route[1].weight`).
 * The YAML line index and the validator both format paths here, so a path a
 * validator reports always finds the line the YAML parser recorded for it.
 */
export type Path = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

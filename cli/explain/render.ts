/** `ambit explain`'s text: the verdict first, then each step and each endpoint's leg, one line apiece. */
import type { Explanation, Step } from './explain.js';

function line(s: Step, indent: string): string {
  const rule = s.policy !== undefined ? ` [policy ${s.policy}${s.rule !== undefined ? ` rule ${s.rule}` : ''}]` : '';
  return `${indent}${s.stage.padEnd(20)}${s.text}${rule}\n`;
}

export function renderExplanation(e: Explanation): string {
  let out = `${e.from} -> ${e.to}: ${e.verdict.toUpperCase()}\n`;
  for (const s of e.steps) out += line(s, '  ');
  for (const p of e.paths) {
    const extra = [p.subset !== undefined ? `subset ${p.subset}` : '', p.weight !== undefined ? `${Math.round(p.weight * 10) / 10}%` : '']
      .filter(Boolean)
      .join(', ');
    out += `  -> ${p.address}:${p.port} ${p.service} on ${p.node}${extra ? ` (${extra})` : ''}: ${p.verdict}\n`;
    for (const s of p.steps) out += line(s, '       ');
  }
  return out;
}

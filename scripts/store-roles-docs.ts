/**
 * The ACL table of docs/store-roles.md, rendered from core/access/roles.ts's
 * roleRules, so the operator doc can never disagree with what `ambit store init`
 * and `ambit node token create` give Redis: `npm run docs:roles` rewrites the part
 * between the markers and test/unit/store-roles-docs.test.ts fails when it differs.
 * The rest of the doc (Sentinel, TLS) is written by hand.
 */
import { roleRules, roleUser, type StoreRole } from '../core/access/roles.js';
import { identityKeysFor } from '../core/identity/store/keys.js';
import { DEFAULT_KEY_PREFIX, keysFor } from '../core/store/keys.js';

export const STORE_ROLES_DOCS_PATH = 'docs/store-roles.md';
export const BEGIN = '<!-- roles:begin: generated from core/access/roles.ts by `npm run docs:roles`; edit that file, not this table -->';
export const END = '<!-- roles:end -->';

/** A node name that passes checkNodeName and appears nowhere else in a rule, shown as <name>. */
const PLACEHOLDER = 'NODENAME';

const ROLES: { role: StoreRole; title: string }[] = [
  { role: { kind: 'operator' }, title: 'operator' },
  { role: { kind: 'signer' }, title: 'signer' },
  { role: { kind: 'node', name: PLACEHOLDER }, title: 'node `<name>`' },
];

/** ACL SETUSER rules by kind: keys (read and write, read only), channels, commands, selectors. */
export function classifyRules(rules: string[]): Record<'keys' | 'readKeys' | 'channels' | 'commands' | 'selectors', string[]> {
  const out = { keys: [] as string[], readKeys: [] as string[], channels: [] as string[], commands: [] as string[], selectors: [] as string[] };
  for (const rule of rules) {
    if (rule.startsWith('(')) out.selectors.push(rule);
    else if (rule.startsWith('%R~')) out.readKeys.push(rule.slice(3));
    else if (rule.startsWith('~')) out.keys.push(rule.slice(1));
    else if (rule.startsWith('&')) out.channels.push(rule.slice(1));
    else out.commands.push(rule);
  }
  return out;
}

const code = (items: string[]): string => (items.length ? items.map((i) => `\`${i.replace(/\|/g, '\\|')}\``).join(' ') : '-');

export function renderRoleTable(): string {
  const prefix = DEFAULT_KEY_PREFIX;
  const rows = ROLES.map(({ role, title }) => {
    const c = classifyRules(roleRules(keysFor(prefix), identityKeysFor(prefix), prefix, role));
    const user = roleUser(prefix, role);
    return `| ${title} | \`${user}\` | ${code(c.keys)} | ${code(c.readKeys)} | ${code(c.channels)} | ${code(c.commands)} | ${code(c.selectors)} |`;
  });
  return [
    BEGIN,
    '',
    `For the default key prefix \`${prefix}\`. Every user is \`reset\` first, then given these rules and its password's SHA-256.`,
    '',
    '| role | ACL user | keys (read and write) | keys (read only) | channels | commands | selectors |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    END,
  ]
    .join('\n')
    .replaceAll(PLACEHOLDER, '<name>');
}

/** The doc with its generated table replaced; the doc must hold both markers. */
export function renderStoreRolesDocs(current: string): string {
  const begin = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${STORE_ROLES_DOCS_PATH} has lost its roles:begin / roles:end markers`);
  return current.slice(0, begin) + renderRoleTable() + current.slice(end + END.length);
}

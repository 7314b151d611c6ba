// ambit/private-names: one private-member style, ECMAScript's `#name`.
//
// Why a rule of our own: the code mixes `#field` (private at run time) with TypeScript's
// `private field` (compile time only: still reachable as obj['field'], printed by
// util.inspect, enumerated by Object.keys). typescript-eslint has no rule that reports
// `private`; no-restricted-syntax could report it, but cannot fix it, and with ~110
// members to convert the fix is the point. It is a rename, so it asks the type checker
// for every reference.
//
// Reports `private` on fields, methods, accessors and constructor parameter properties.
// `private constructor` (a static factory has no other spelling) and `protected` (a
// subclass cannot reach `#name`) are allowed.
//
// The fix renames the declaration and each `obj.name` that resolves to it, in this file
// (TypeScript lets nothing else in another file reach a private member, short of
// obj['name'], which tsc then rejects). A parameter property becomes a field declared
// before the constructor and assigned at the top of its body (after super()). No fix, only
// the report, when the rename is not a rename: a reference that is not `obj.name` (a
// bracket access, a destructuring), `obj?.name` (an optional chain may not hold `#name`),
// a decorator, a `#name` already in the class, or a field initializer that reads a
// parameter property (initializers run before the constructor body would assign it).

/** @typedef {import('eslint').Rule.RuleModule} RuleModule */

/** @type {RuleModule} */
const rule = {
  meta: {
    type: 'suggestion',
    fixable: 'code',
    docs: { description: 'Use ECMAScript private names (#name) instead of the TypeScript `private` modifier' },
    messages: {
      member: 'Use #{{name}} (an ECMAScript private name) instead of `private {{name}}`.',
      parameter: 'Declare a #{{name}} field and assign it in the constructor instead of the `private {{name}}` parameter property.',
    },
    schema: [],
  },
  create(context) {
    const source = context.sourceCode;
    const services = source.parserServices;
    if (!services?.program) throw new Error('ambit/private-names needs type information (parserOptions.projectService)');
    const checker = services.program.getTypeChecker();
    /** @type {Map<string, any[]>} every Identifier in the file by name, to resolve references */
    const identifiers = new Map();
    /** @type {any[]} */
    const declarations = [];

    const symbolOf = (/** @type {any} */ node) => services.getSymbolAtLocation(node);

    /** @param {any} classBody @param {string} name */
    const hasPrivateName = (classBody, name) => classBody.body.some((/** @type {any} */ m) => m.key?.type === 'PrivateIdentifier' && m.key.name === name);

    /** References of `symbol` other than `except`: the nodes to prefix with '#', or undefined when one cannot be renamed. */
    function references(/** @type {any} */ symbol, /** @type {string} */ name, /** @type {Set<any>} */ except) {
      const out = [];
      for (const id of identifiers.get(name) ?? []) {
        if (except.has(id) || symbolOf(id) !== symbol) continue;
        const p = id.parent;
        if (p.type === 'MemberExpression' && p.property === id && !p.computed && !p.optional) out.push(id);
        else if (p.type === 'TSParameterProperty' || (p.type === 'AssignmentPattern' && p.parent.type === 'TSParameterProperty')) continue;
        else return undefined;
      }
      return out;
    }

    /** The range of the `private` keyword and the blank after it. */
    function privateKeyword(/** @type {any} */ node) {
      const keyStart = node.key.range[0];
      for (const token of source.getTokens(node)) {
        if (token.range[0] >= keyStart) break;
        if (token.value === 'private') return [token.range[0], source.getTokenAfter(token).range[0]];
      }
      return undefined;
    }

    /** A member's fix, as fixer operations, or undefined when it cannot be renamed. */
    function memberFix(/** @type {any[]} */ members) {
      const [first] = members;
      const name = first.key.name;
      const symbol = symbolOf(first.key);
      const refs = symbol && references(symbol, name, new Set(members.map((m) => m.key)));
      if (!refs || hasPrivateName(first.parent, name) || members.some((m) => m.decorators?.length || !privateKeyword(m))) return undefined;
      return (/** @type {any} */ fixer) => [
        ...members.flatMap((d) => [fixer.removeRange(privateKeyword(d)), fixer.insertTextBefore(d.key, '#')]),
        ...refs.map((r) => fixer.insertTextBefore(r, '#')),
      ];
    }

    /** A parameter property as the field it declares, or undefined when it cannot be converted. */
    function parameterField(/** @type {any} */ prop) {
      const param = prop.parameter;
      const id = param.type === 'AssignmentPattern' ? param.left : param;
      const name = id.name;
      const classBody = prop.parent.parent.parent;
      const tsParam = services.esTreeNodeToTSNodeMap.get(prop);
      const [, symbol] = checker.getSymbolsOfParameterPropertyDeclaration(tsParam, name);
      const refs = references(symbol, name, new Set([id]));
      // Field initializers run before the constructor body, which would now do the assigning.
      const readByInitializer = refs?.some((r) => {
        for (let n = r; n.parent && n !== classBody; n = n.parent)
          if (n.parent.type === 'PropertyDefinition' && n.parent.value === n && !n.parent.static) return true;
        return false;
      });
      let type = id.typeAnnotation ? source.getText(id.typeAnnotation.typeAnnotation) : checker.typeToString(checker.getTypeAtLocation(tsParam));
      if (id.optional && !id.typeAnnotation) type = type.replace(/ \| undefined$/, '');
      if (!refs || readByInitializer || prop.decorators?.length || hasPrivateName(classBody, name) || /\bimport\(|\bany\b/.test(type)) return undefined;
      return { prop, param, name, refs, declaration: `${prop.readonly ? 'readonly ' : ''}#${name}${id.optional ? '?' : ''}: ${type};` };
    }

    /** One constructor's converted parameter properties: fields declared before it, assigned first thing in it. */
    function parametersFix(/** @type {any} */ ctor, /** @type {any[]} */ fields) {
      const classBody = ctor.parent;
      const leading = source.getCommentsBefore(ctor)[0] ?? ctor;
      const indent = source.lines[leading.loc.start.line - 1].slice(0, leading.loc.start.column);
      const declarations = fields.map((f) => f.declaration).join(`\n${indent}`);
      // Beside the fields already declared above the constructor, if that is what precedes it.
      const previous = classBody.body[classBody.body.indexOf(ctor) - 1];
      const body = ctor.value.body;
      const superCall = classBody.parent.superClass
        ? body.body.find((s) => s.type === 'ExpressionStatement' && s.expression.type === 'CallExpression' && s.expression.callee.type === 'Super')
        : undefined;
      const assignments = fields.map((f) => `\n${indent}  this.#${f.name} = ${f.name};`).join('') + (body.body.length === 0 ? `\n${indent}` : '');
      return (/** @type {any} */ fixer) => [
        previous?.type === 'PropertyDefinition' && !previous.static
          ? fixer.insertTextAfter(previous, `\n${indent}${declarations}`)
          : fixer.insertTextBefore(leading, `${declarations}\n\n${indent}`),
        ...fields.map((f) => fixer.removeRange([f.prop.range[0], f.param.range[0]])),
        superCall ? fixer.insertTextAfter(superCall, assignments) : fixer.insertTextAfterRange([body.range[0], body.range[0] + 1], assignments),
        ...fields.flatMap((f) => f.refs.map((/** @type {any} */ r) => fixer.insertTextBefore(r, '#'))),
      ];
    }

    /**
     * All of one class's private members convert in a single fix: each rename touches
     * references spread over the class, so separate fixes would overlap and ESLint would
     * apply one per pass.
     */
    function reportClass(/** @type {any[]} */ decls) {
      /** @type {{ node: any, messageId: string, name: string, fixable: boolean }[]} */
      const reports = [];
      const fixes = [];
      /** @type {Map<any, any[]>} overloads and get/set pairs are one member */
      const members = new Map();
      /** @type {Map<any, any[]>} */
      const parameters = new Map();
      for (const d of decls) {
        if (d.type === 'TSParameterProperty') {
          const ctor = d.parent.parent;
          parameters.set(ctor, [...(parameters.get(ctor) ?? []), d]);
        } else if (d.computed || d.key.type !== 'Identifier') {
          reports.push({ node: d.key, messageId: 'member', name: source.getText(d.key), fixable: false });
        } else {
          const key = symbolOf(d.key) ?? d;
          members.set(key, [...(members.get(key) ?? []), d]);
        }
      }
      for (const group of members.values()) {
        const fix = memberFix(group);
        if (fix) fixes.push(fix);
        for (const m of group) reports.push({ node: m.key, messageId: 'member', name: m.key.name, fixable: !!fix });
      }
      for (const [ctor, props] of parameters) {
        const fields = [];
        for (const prop of props) {
          const field = parameterField(prop);
          if (field) fields.push(field);
          const id = prop.parameter.type === 'AssignmentPattern' ? prop.parameter.left : prop.parameter;
          reports.push({ node: id, messageId: 'parameter', name: id.name, fixable: !!field });
        }
        if (fields.length) fixes.push(parametersFix(ctor, fields));
      }
      reports.sort((a, b) => a.node.range[0] - b.node.range[0]);
      const carrier = reports.find((r) => r.fixable);
      for (const r of reports) {
        context.report({
          node: r.node,
          messageId: r.messageId,
          data: { name: r.name },
          fix: r === carrier ? (fixer) => fixes.flatMap((f) => f(fixer)) : null,
        });
      }
    }

    return {
      Identifier(node) {
        const list = identifiers.get(node.name);
        if (list) list.push(node);
        else identifiers.set(node.name, [node]);
      },
      'PropertyDefinition, AccessorProperty, MethodDefinition'(/** @type {any} */ node) {
        if (node.accessibility === 'private' && node.kind !== 'constructor') declarations.push(node);
      },
      TSParameterProperty(/** @type {any} */ node) {
        if (node.accessibility === 'private') declarations.push(node);
      },
      'Program:exit'() {
        /** @type {Map<any, any[]>} */
        const byClass = new Map();
        for (const d of declarations) {
          const classBody = d.type === 'TSParameterProperty' ? d.parent.parent.parent : d.parent;
          byClass.set(classBody, [...(byClass.get(classBody) ?? []), d]);
        }
        for (const decls of byClass.values()) reportClass(decls);
      },
    };
  },
};

export default { meta: { name: 'ambit' }, rules: { 'private-names': rule } };

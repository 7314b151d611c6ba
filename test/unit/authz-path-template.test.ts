import test from 'ava';
import { AuthzError, compilePathTemplate, compilePolicies, isPathTemplate, pathTemplateProblem } from '../../core/authz/index.js';
import { allows, ap, l7 } from './authz-helpers.js';

const matches = (template: string, path: string) => compilePathTemplate(template).test(path);

test('only {*} and {**} make a template', (t) => {
  t.true(isPathTemplate('/a/{*}'));
  t.true(isPathTemplate('/{**}/a'));
  t.false(isPathTemplate('/a/*'));
  t.false(isPathTemplate('/a/{id}'));
});

test('{*} is exactly one non-empty segment', (t) => {
  t.true(matches('/foo/{*}', '/foo/bar'));
  t.false(matches('/foo/{*}', '/foo/bar/baz'));
  t.false(matches('/foo/{*}', '/foo/'));
  t.true(matches('/path/template/{*}', '/path/template/x'));
});

test('{**} is zero or more segments (Istio API examples)', (t) => {
  t.true(matches('/foo/{**}/', '/foo/bar/'));
  t.true(matches('/foo/{**}/', '/foo/bar/baz/'));
  t.true(matches('/foo/{**}/', '/foo//'));
  t.false(matches('/foo/{**}/', '/foo/bar'));
  t.true(matches('/foo/{*}/bar/{**}', '/foo/buzz/bar/'));
  t.true(matches('/foo/{*}/bar/{**}', '/foo/buzz/bar/baz'));
  t.true(matches('/{**}/path/template', '/a/b/path/template'));
  t.false(matches('/{**}/path/template', '/path/template'), 'the "/" around {**} stays literal');
});

test('literal segments match literally ("." is not a regex dot)', (t) => {
  t.true(matches('/v1.0/{*}', '/v1.0/x'));
  t.false(matches('/v1.0/{*}', '/v1x0/x'));
  t.false(matches('/a/{*}', '/a/b?c'), 'a segment holds only pchars');
});

test('Istio rejects what it cannot turn into an Envoy URI template', (t) => {
  t.regex(pathTemplateProblem('/{**}/a/{*}')!, /last operator/);
  t.regex(pathTemplateProblem('/{**}/{**}')!, /last operator/);
  t.regex(pathTemplateProblem('/*/baz/{*}')!, /not a plain path literal/);
  t.regex(pathTemplateProblem('/a{*}')!, /outside/);
  t.regex(pathTemplateProblem('/a/{id}/{*}')!, /outside/);
  t.regex(pathTemplateProblem('a/{*}')!, /must start/);
  t.is(pathTemplateProblem('/a/{*}/b/{**}'), undefined);
  t.throws(() => compilePathTemplate('/{**}/{*}'), { instanceOf: AuthzError, code: 'EAUTHZ_PATH_TEMPLATE' });
});

test('an invalid template fails the policy compile and says where', (t) => {
  const err = t.throws(() => compilePolicies([ap({ rules: [{ to: [{ operation: { paths: ['/ok', '/{**}/{*}'] } }] }] })]));
  t.is((err as AuthzError).code, 'EAUTHZ_INVALID');
  t.regex(err.message, /AuthorizationPolicy foo\/p: rules\[0\]\.to\[0\]\.operation: \{\*\*\} must be the last operator/);
});

test('paths in a policy: string forms and templates side by side; the query is not part of the path', (t) => {
  const rule = { to: [{ operation: { paths: ['/exact', '/prefix/*', '*/suffix', '/api/{*}/items/{**}'] } }] };
  for (const p of ['/exact', '/exact?x=1', '/prefix/a/b', '/x/suffix', '/api/7/items/', '/api/7/items/a/b#frag']) t.true(allows(rule, l7({ path: p })), p);
  for (const p of ['/exactly', '/prefix', '/api/7/8/items/a', '/api//items/a']) t.false(allows(rule, l7({ path: p })), p);
});

test('notPaths with a template excludes those paths', (t) => {
  const rule = { to: [{ operation: { notPaths: ['/admin/{**}'] } }] };
  t.true(allows(rule, l7({ path: '/public' })));
  t.false(allows(rule, l7({ path: '/admin/users/1' })));
});

'use strict';
// node --test editors/vscode/test: the extension's pure parts (no VS Code needed).
const test = require('node:test');
const assert = require('node:assert/strict');
const { resolveServerCommand, serverSettings } = require('../lib/serverCommand');
const { describeResult } = require('../lib/commandResult');

const files = (...present) => (p) => present.includes(p);

test('serverPath wins over everything, with the extra args', () => {
  const got = resolveServerCommand({ serverPath: '${workspaceFolder}/bin/lsp', pythonPath: '/py', serverArgs: ['-v'] },
    ['/ws'], files('/ws/.venv/bin/osiris-lsp'));
  assert.deepEqual(got, { command: '/ws/bin/lsp', args: ['-v'], why: 'osiris.serverPath' });
});

test('pythonPath runs the server as a module', () => {
  const got = resolveServerCommand({ pythonPath: '/opt/py/bin/python' }, ['/ws'], files());
  assert.deepEqual([got.command, ...got.args], ['/opt/py/bin/python', '-m', 'osiris_lsp']);
});

test('the workspace .venv is found: osiris-lsp first, then python -m', () => {
  assert.equal(resolveServerCommand({}, ['/a', '/b'], files('/b/.venv/bin/osiris-lsp')).command, '/b/.venv/bin/osiris-lsp');
  const viaPython = resolveServerCommand({}, ['/a'], files('/a/.venv/bin/python'));
  assert.deepEqual([viaPython.command, ...viaPython.args], ['/a/.venv/bin/python', '-m', 'osiris_lsp']);
});

test('without settings or a venv, osiris-lsp on PATH', () => {
  assert.equal(resolveServerCommand({}, [], files()).command, 'osiris-lsp');
});

test('server settings leave out empty values and keep the server names', () => {
  assert.deepEqual(serverSettings({ componentsPath: ['', 'specs'], connectionsFile: '', runEngine: 'e2b', secretsFile: '.env' }),
    { componentsPath: ['specs'], runEngine: 'e2b', secretsFile: '.env' });
});

test('a run result lists status, paths and row counts', () => {
  const lines = describeResult({ ok: true, command: 'run', exit_code: 0, out_dir: '/o', run_dir: '/r',
    rows: { 'load-orders': 42 }, outputs: ['/r/out.csv'] });
  assert.deepEqual(lines, ['finished', 'out_dir: /o', 'run_dir: /r', 'rows load-orders: 42', 'output: /r/out.csv']);
});

test('a failed compile points at the Problems panel; cancelled says so', () => {
  assert.deepEqual(describeResult({ ok: false, command: 'compile', diagnostics: [{}, {}] }),
    ['failed', '2 diagnostic(s), see the Problems panel']);
  assert.equal(describeResult({ ok: false, cancelled: true, exit_code: -15 })[0], 'cancelled');
  assert.match(describeResult(null)[0], /unexpected result/);
});

const { describeGenerateResult } = require('../lib/generateResult');

test('a generated pipeline is opened', () => {
  const got = describeGenerateResult({ ok: true, file: '/ws/a.oml.yaml', uri: 'file:///ws/a.oml.yaml', attempts: [{}, {}] });
  assert.equal(got.uri, 'file:///ws/a.oml.yaml');
  assert.equal(got.headline, 'wrote /ws/a.oml.yaml (2 attempt(s))');
});

test('remaining problems and endpoint errors are described, nothing opened', () => {
  const invalid = describeGenerateResult({ ok: false, attempts: [{}, {}, {}],
    problems: [{ line: 5, column: 16, code: 'oml.unknown-component', message: 'unknown component `x`', fix: 'did you mean `y`?' }] });
  assert.equal(invalid.uri, undefined);
  assert.equal(invalid.lines[0], '5:16 oml.unknown-component: unknown component `x` (fix: did you mean `y`?)');
  const refused = describeGenerateResult({ ok: false, error: { code: 'llm.refused', message: 'refused the API key', fix: 'check it' } });
  assert.deepEqual(refused.lines, ['llm.refused: refused the API key', 'fix: check it']);
});

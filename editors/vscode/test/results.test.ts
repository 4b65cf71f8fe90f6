// What the user reads after Compile and Run.
import assert from 'node:assert/strict';
import test from 'node:test';
import { renderCompile, renderGenerate, renderRun, renderServerCommand, stepLines } from '../src/results';
import { isOsirisOutput, looksLikeOml } from '../src/detect';

test('a successful run lists rows per step and the run directory', () => {
  const r = renderRun({
    ok: true, command: 'run', run_dir: '/ws/.osiris/runs/x', outputs: ['/ws/out/r.csv'],
    steps: [{ step: 'extract-orders', status: 'ok', rows: 500, duration_ms: 3.4 }, { step: 'write-report', status: 'ok', rows: 1, duration_ms: 1200 }],
  });
  assert.equal(r.severity, 'info');
  assert.equal(r.headline, 'run ok: extract-orders 500 rows, write-report 1 row');
  assert.deepEqual(r.lines, ['✓ extract-orders  500 rows  3 ms', '✓ write-report  1 row  1.2 s',
    'run directory: /ws/.osiris/runs/x', 'output: /ws/out/r.csv']);
});

test('a failed run names the step and carries the server error; the failed step shows no rows', () => {
  const r = renderRun({
    ok: false, command: 'run', exit_code: 4, failed_step: 'read-orders', error: 'file not found: data/x.csv',
    steps: [{ step: 'read-orders', status: 'failed', rows: null, duration_ms: 2 }, { step: 'write', status: 'cancelled', rows: null }],
  });
  assert.equal(r.severity, 'error');
  assert.equal(r.headline, 'run failed at step read-orders: file not found: data/x.csv');
  assert.deepEqual(stepLines([{ step: 'read-orders', status: 'failed', rows: null }]), ['✗ read-orders  failed']);
  assert.ok(!r.lines.join('\n').includes('rows'), r.lines.join('\n'));
});

test('unset connection variables: not run, names only', () => {
  const r = renderRun({
    ok: false, command: 'run', not_started: true, error: 'x',
    unset_variables: [{ code: 'connection.env-unset', message: '@mysql.shop uses `${PW}` (password), not set', data: { variables: ['PW'] } }],
  });
  assert.equal(r.severity, 'warning');
  assert.match(r.headline, /^not run: @mysql.shop uses `\$\{PW\}`/);
  assert.deepEqual(r.lines, ['unset: PW']);
});

test('a run that did not compile says so with the first error', () => {
  const r = renderRun({ ok: false, command: 'run', diagnostics: [{ code: 'oml.unknown-component', message: 'unknown component `x`', severity: 'error' }] });
  assert.equal(r.headline, 'not run, compile failed: oml.unknown-component: unknown component `x`');
});

test('compile: where the manifest is, or the first error and how many more', () => {
  assert.equal(renderCompile({ ok: true, command: 'compile', out_dir: '/o', manifest: '/o/manifest.yaml', steps: ['a', 'b'] }).headline,
    'compiled 2 steps to /o');
  const failed = renderCompile({ ok: false, command: 'compile', diagnostics: [
    { code: 'a.b', message: 'one', severity: 'error' }, { code: 'c.d', message: 'two', severity: 'error' }, { code: 'w', message: 'w', severity: 'warning' }] });
  assert.equal(failed.headline, 'compile failed: a.b: one (and 1 more)');
});

test('content detection: oml_version in the first lines of a YAML file', () => {
  assert.ok(looksLikeOml('# quickstart\n# more\noml_version: "0.1.0"\nname: x\n'));
  assert.ok(!looksLikeOml('name: x\nsteps: []\n'));
  assert.ok(!looksLikeOml('  oml_version: nested\n'));
});

test('a generated pipeline is opened; remaining problems and endpoint errors are described', () => {
  const wrote = renderGenerate({ ok: true, file: '/ws/a.oml.yaml', uri: 'file:///ws/a.oml.yaml', attempts: [{}, {}] });
  assert.deepEqual([wrote.uri, wrote.headline], ['file:///ws/a.oml.yaml', 'wrote /ws/a.oml.yaml (2 attempts)']);
  const invalid = renderGenerate({ ok: false, attempts: [{}, {}, {}],
    problems: [{ line: 5, column: 16, code: 'oml.unknown-component', message: 'unknown component `x`', fix: 'did you mean `y`?' }] });
  assert.equal(invalid.uri, undefined);
  assert.equal(invalid.lines[0], '5:16 oml.unknown-component: unknown component `x` (fix: did you mean `y`?)');
  const refused = renderGenerate({ ok: false, error: { code: 'llm.refused', message: 'refused the API key', fix: 'check it' } });
  assert.deepEqual(refused.lines, ['llm.refused: refused the API key', 'fix: check it']);
});

test('a cancelled generate is quiet; a missing key or endpoint offers its remedy', () => {
  const cancelled = renderGenerate({ ok: false, cancelled: true, attempts: [{}] });
  assert.deepEqual([cancelled.headline, cancelled.severity, cancelled.lines], ['generation cancelled', 'info', ['after 1 attempt; nothing was written']]);
  const keyless = renderGenerate({ ok: false, error: { code: 'llm.not-configured', message: 'no API key', missing: ['apiKey'] } });
  assert.deepEqual([keyless.severity, keyless.remedy], ['error', 'setApiKey']);
  const noModel = renderGenerate({ ok: false, error: { code: 'llm.not-configured', message: 'osiris.ai.model is not set', missing: ['model'] } });
  assert.equal(noModel.remedy, 'openAiSettings');
  assert.equal(renderGenerate({ ok: false, error: { code: 'llm.refused', message: 'refused' } }).remedy, undefined);
});

test('discover and preview results', () => {
  assert.equal(renderServerCommand('discover', { ok: true, message: '12 tables' }).headline, 'discover: 12 tables');
  assert.equal(renderServerCommand('preview', { ok: false, message: 'exit 4' }).severity, 'error');
  assert.equal(renderServerCommand('preview', { ok: true, markdown: '| a |' }).markdown, '| a |');
});

test('compiled manifests are not pipelines', () => {
  assert.ok(isOsirisOutput('/ws/.osiris/compiled/good/manifest.yaml'));
  assert.ok(!isOsirisOutput('/ws/pipelines/good.yaml'));
});

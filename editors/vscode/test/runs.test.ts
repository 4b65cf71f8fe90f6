// The Runs view's model over a real run directory layout.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { listRuns, runDescription, stepDescription } from '../src/views/runsModel';

function writeRun(root: string, name: string, status: object, steps: object): void {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify(status));
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify({ steps }));
}

test('newest runs first, with per-step status and rows', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'osiris-runs-'));
  writeRun(root, '20260101T000000Z_aaa', { run_id: 'aaa', pipeline: 'p', status: 'ok', ok: true, duration_ms: 374, started_at: '2026-01-01T00:00:00Z' },
    { read: { status: 'ok', rows_read: 500, rows_out: 500, duration_ms: 3 }, write: { status: 'ok', rows_written: 8, duration_ms: 1500 } });
  writeRun(root, '20260102T000000Z_bbb', { run_id: 'bbb', pipeline: 'p', status: 'failed', ok: false, error: 'boom', failed_step: 'read' },
    { read: { status: 'failed', rows_read: 12 } });
  fs.mkdirSync(path.join(root, 'not-a-run'));
  const runs = listRuns(root);
  assert.deepEqual(runs.map((r) => r.id), ['bbb', 'aaa']);
  assert.equal(runs[0].steps[0].rows, null);  // a failed step's partial count is not shown
  assert.equal(runs[0].error, 'boom');
  assert.equal(runDescription(runs[1]), 'ok · 374 ms · 2 steps');
  assert.deepEqual(runs[1].steps.map(stepDescription), ['500 rows · 3 ms', '8 rows · 1.5 s']);
  assert.deepEqual(listRuns(path.join(root, 'missing')), []);
});

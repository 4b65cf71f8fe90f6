// The runs of a workspace as the Runs view shows them, read from `.osiris/runs/<run>/`
// (status.json, metrics.json; events.jsonl is opened, not parsed). Pure apart from reading files.
import * as fs from 'fs';
import * as path from 'path';

export interface StepInfo {
  step: string;
  status: string;
  rows: number | null;
  durationMs: number | null;
}

export interface RunInfo {
  id: string;
  dir: string;
  pipeline: string;
  status: string;
  ok: boolean;
  startedAt: string | null;
  durationMs: number | null;
  error: string | null;
  failedStep: string | null;
  steps: StepInfo[];
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The rows a step moved: written for a writer, else out, else read; none for a step that did not finish. */
function stepRows(m: Record<string, unknown>): number | null {
  if (m.status !== 'ok') return null;
  return num(m.rows_written) || num(m.rows_out) || num(m.rows_read) || 0;
}

export function readRun(dir: string): RunInfo | undefined {
  const status = readJson(path.join(dir, 'status.json'));
  if (!status) return undefined;
  const metrics = readJson(path.join(dir, 'metrics.json'));
  const stepMetrics = (metrics?.steps ?? {}) as Record<string, Record<string, unknown>>;
  const steps = Object.entries(stepMetrics).map(([step, m]) => ({
    step, status: str(m.status) ?? 'unknown', rows: stepRows(m), durationMs: num(m.duration_ms),
  }));
  return {
    id: str(status.run_id) ?? path.basename(dir),
    dir,
    pipeline: str(status.pipeline) ?? '?',
    status: str(status.status) ?? 'unknown',
    ok: status.ok === true,
    startedAt: str(status.started_at),
    durationMs: num(status.duration_ms),
    error: str(status.error),
    failedStep: str(status.failed_step),
    steps,
  };
}

/** The newest `limit` runs under `runsDir` (run folders start with their UTC start time). */
export function listRuns(runsDir: string, limit = 25): RunInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(runsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
  return names.sort().reverse().slice(0, limit)
    .map((name) => readRun(path.join(runsDir, name)))
    .filter((r): r is RunInfo => r !== undefined);
}

export function describeDuration(ms: number | null): string {
  if (ms === null) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `ok · 374 ms · 4 steps` for a run; `500 rows · 3 ms` for a step. */
export function runDescription(run: RunInfo): string {
  return [run.status, describeDuration(run.durationMs), `${run.steps.length} steps`].filter(Boolean).join(' · ');
}

export function stepDescription(step: StepInfo): string {
  const rows = step.rows === null ? step.status : `${step.rows} row${step.rows === 1 ? '' : 's'}`;
  return [rows, describeDuration(step.durationMs)].filter(Boolean).join(' · ');
}

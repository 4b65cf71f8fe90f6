// What the user reads after Compile or Run: the server's result (osiris_lsp/features/commands.py)
// turned into a toast headline and lines for the Osiris output. Pure (no vscode import).

export interface StepResult {
  step: string;
  status: string | null;
  rows: number | null;
  duration_ms?: number | null;
}

export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface DiagnosticJson {
  code: string;
  message: string;
  severity?: string;
  data?: Record<string, unknown>;
}

export interface CommandResult {
  ok: boolean;
  command: 'compile' | 'run';
  cancelled?: boolean;
  not_started?: boolean;
  exit_code?: number;
  out_dir?: string | null;
  manifest?: string | null;
  run_dir?: string | null;
  outputs?: string[];
  steps?: StepResult[] | string[];
  rows?: Record<string, number>;
  status?: string | null;
  error?: string | null;
  failed_step?: string | null;
  failed_step_range?: LspRange;
  unset_variables?: DiagnosticJson[];
  diagnostics?: DiagnosticJson[];
}

export interface Rendered {
  /** One line for the toast. */
  headline: string;
  /** Details for the output channel. */
  lines: string[];
  severity: 'info' | 'warning' | 'error';
}

export function isCommandResult(value: unknown): value is CommandResult {
  return typeof value === 'object' && value !== null && typeof (value as CommandResult).ok === 'boolean';
}

function duration(ms: number | null | undefined): string {
  if (typeof ms !== 'number') return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function errors(result: CommandResult): DiagnosticJson[] {
  return (result.diagnostics ?? []).filter((d) => (d.severity ?? 'error') === 'error');
}

/** Per-step lines of a run: `✓ extract-orders  500 rows  3 ms`; a failed step shows no rows. */
export function stepLines(steps: StepResult[]): string[] {
  return steps.map((s) => {
    const mark = s.status === 'ok' ? '✓' : s.status === 'failed' ? '✗' : s.status === 'cancelled' ? '■' : '·';
    const rows = s.status === 'ok' && typeof s.rows === 'number' ? plural(s.rows, 'row') : s.status ?? 'not run';
    return `${mark} ${s.step}  ${rows}${s.duration_ms != null ? `  ${duration(s.duration_ms)}` : ''}`;
  });
}

function runSteps(result: CommandResult): StepResult[] {
  return (result.steps ?? []).filter((s): s is StepResult => typeof s === 'object' && s !== null);
}

export function renderCompile(result: CommandResult): Rendered {
  if (result.ok) {
    const steps = (result.steps ?? []).length;
    return {
      headline: `compiled ${plural(steps, 'step')} to ${result.out_dir ?? 'the output folder'}`,
      lines: [`manifest: ${result.manifest ?? '?'}`, ...(result.outputs ?? []).map((o) => `wrote ${o}`)],
      severity: 'info',
    };
  }
  const errs = errors(result);
  return {
    headline: `compile failed: ${errs.length ? `${errs[0].code}: ${errs[0].message}` : result.error ?? 'see the Problems panel'}`
      + (errs.length > 1 ? ` (and ${errs.length - 1} more)` : ''),
    lines: errs.map((d) => `${d.code}: ${d.message}`),
    severity: 'error',
  };
}

export function renderRun(result: CommandResult): Rendered {
  if (result.command === 'run' && !result.ok && !result.not_started && result.diagnostics && !result.steps) {
    return { ...renderCompile(result), headline: renderCompile(result).headline.replace('compile failed', 'not run, compile failed') };
  }
  const steps = runSteps(result);
  const lines = stepLines(steps);
  if (result.run_dir) lines.push(`run directory: ${result.run_dir}`);
  for (const o of result.outputs ?? []) lines.push(`output: ${o}`);
  if (result.cancelled) return { headline: 'run cancelled', lines, severity: 'warning' };
  if (result.not_started) {
    const names = (result.unset_variables ?? []).flatMap((d) => (d.data?.variables as string[] | undefined) ?? []);
    return {
      headline: `not run: ${(result.unset_variables ?? []).map((d) => d.message).join('; ') || result.error}`,
      lines: names.map((n) => `unset: ${n}`),
      severity: 'warning',
    };
  }
  if (result.ok) {
    const rowsOf = steps.filter((s) => typeof s.rows === 'number').map((s) => `${s.step} ${plural(s.rows as number, 'row')}`);
    return { headline: `run ok: ${rowsOf.join(', ') || plural(steps.length, 'step')}`, lines, severity: 'info' };
  }
  const where = result.failed_step ? ` at step ${result.failed_step}` : '';
  return { headline: `run failed${where}: ${result.error ?? `exit code ${result.exit_code ?? '?'}`}`, lines, severity: 'error' };
}

/** The result of the server's osiris.generate (osiris_lsp/features/generate.py). */
export interface GenerateResult {
  ok: boolean;
  cancelled?: boolean;
  file?: string;
  uri?: string;
  attempts?: unknown[];
  problems?: { code: string; line: number; column: number; message: string; fix?: string }[];
  /** `missing` (llm.not-configured): the endpoint settings that are not set, `apiKey` among them. */
  error?: { code: string; message: string; fix?: string; missing?: string[] };
}

/**
 * What to tell the user after Generate, the new file to open (only when a valid pipeline was
 * written), and the remedy to offer: the Set AI API key command when the key is missing, the
 * `osiris.ai` settings when the endpoint or model is.
 */
export function renderGenerate(result: GenerateResult | null | undefined): Rendered & { uri?: string; remedy?: 'setApiKey' | 'openAiSettings' } {
  if (!result || typeof result !== 'object') return { headline: `unexpected result: ${JSON.stringify(result)}`, lines: [], severity: 'error' };
  const tries = (result.attempts ?? []).length;
  if (result.cancelled) {
    return { headline: 'generation cancelled', lines: tries ? [`after ${plural(tries, 'attempt')}; nothing was written`] : [], severity: 'info' };
  }
  if (result.error) {
    const lines = [`${result.error.code}: ${result.error.message}`, ...(result.error.fix ? [`fix: ${result.error.fix}`] : [])];
    const missing = result.error.code === 'llm.not-configured' ? result.error.missing ?? [] : [];
    const remedy = missing.includes('apiKey') ? 'setApiKey' : missing.length ? 'openAiSettings' : undefined;
    return { headline: result.error.message, lines, severity: 'error', ...(remedy ? { remedy } : {}) };
  }
  if (result.ok && result.uri) {
    return { headline: `wrote ${result.file} (${plural(tries, 'attempt')})`, lines: [`file: ${result.file}`], severity: 'info', uri: result.uri };
  }
  const lines = (result.problems ?? []).map((p) => `${p.line}:${p.column} ${p.code}: ${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}`);
  return { headline: `no valid pipeline after ${plural(tries, 'attempt')}; nothing was written`, lines, severity: 'error' };
}

/** The result of another server command (osiris.discover, osiris.preview): `{ok, message?, markdown?}`. */
export function renderServerCommand(name: string, result: unknown): Rendered & { markdown?: string } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as { ok?: boolean; message?: string; markdown?: string; cancelled?: boolean };
  if (r.cancelled) return { headline: `${name} cancelled`, lines: [], severity: 'warning' };
  const severity = r.ok === false ? 'error' : 'info';
  return { headline: `${name}: ${r.message ?? (r.ok === false ? 'failed' : 'done')}`, lines: [], severity, markdown: r.markdown };
}

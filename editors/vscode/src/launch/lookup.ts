// Which process serves OML, and what a probe of it says. Pure (no vscode import).
//
// Order: osiris.serverPath, osiris.pythonPath, the Python extension's interpreter, the workspace
// .venv, PATH. The two settings are the user's explicit choice and are used as they are (a
// missing Osiris there is reported, never silently replaced); the other three are guesses, so a
// guess without Osiris gives way to the next guess that has it.
import * as path from 'path';
import type { OsirisSettings } from '../settings';

/** The oldest server this extension works with (it needs `osiris.componentDoc` and `--version`). */
export const MIN_SERVER_VERSION = '0.1.0';

export interface Candidate {
  /** `server`: an osiris-lsp executable; `python`: an interpreter that runs `-m osiris_lsp`. */
  kind: 'server' | 'python';
  command: string;
  /** Where it came from, for messages: `osiris.pythonPath`, `Python extension`, `/ws/.venv`, `PATH`. */
  source: string;
  /** True for osiris.serverPath / osiris.pythonPath. */
  explicit: boolean;
}

export interface LookupInputs {
  settings: Pick<OsirisSettings, 'serverPath' | 'pythonPath'>;
  workspaceFolders: string[];
  /** The Python extension's selected interpreter, when that extension is installed. */
  pythonExtensionInterpreter?: string;
  /** Directories of PATH, in order. */
  pathDirs: string[];
  isFile(p: string): boolean;
}

/** Every candidate, in lookup order (an explicit setting comes alone: nothing else is tried). */
export function serverCandidates(inputs: LookupInputs): Candidate[] {
  const { settings } = inputs;
  if (settings.serverPath) return [{ kind: 'server', command: settings.serverPath, source: 'osiris.serverPath', explicit: true }];
  if (settings.pythonPath) return [{ kind: 'python', command: settings.pythonPath, source: 'osiris.pythonPath', explicit: true }];
  const out: Candidate[] = [];
  if (inputs.pythonExtensionInterpreter) {
    out.push({ kind: 'python', command: inputs.pythonExtensionInterpreter, source: 'Python extension', explicit: false });
  }
  for (const folder of inputs.workspaceFolders) {
    const python = path.join(folder, '.venv', 'bin', 'python');
    if (inputs.isFile(python)) out.push({ kind: 'python', command: python, source: path.join(folder, '.venv'), explicit: false });
  }
  const onPath = (name: string) => inputs.pathDirs.map((d) => path.join(d, name)).find((p) => inputs.isFile(p));
  const server = onPath('osiris-lsp');
  if (server) out.push({ kind: 'server', command: server, source: 'PATH', explicit: false });
  const python = onPath('python3') ?? onPath('python');
  if (python) out.push({ kind: 'python', command: python, source: 'PATH', explicit: false });
  return dedupe(out);
}

function dedupe(candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => !seen.has(c.command) && seen.add(c.command) !== undefined);
}

/** How to start the server from a candidate. */
export function serverCommand(candidate: Candidate, extraArgs: string[]): { command: string; args: string[] } {
  const args = candidate.kind === 'python' ? ['-m', 'osiris_lsp', ...extraArgs] : extraArgs;
  return { command: candidate.command, args };
}

/** How to ask a candidate for its Osiris version without starting the server. */
export function probeCommand(candidate: Candidate): { command: string; args: string[] } {
  if (candidate.kind === 'server') return { command: candidate.command, args: ['--version'] };
  return {
    command: candidate.command,
    args: ['-c', "import sys, osiris_lsp; sys.stdout.write(getattr(osiris_lsp, '__version__', 'unknown'))"],
  };
}

export type ProbeResult =
  | { kind: 'ok'; version: string }
  | { kind: 'missing' }
  | { kind: 'too-old'; version: string }
  | { kind: 'not-found' }
  | { kind: 'failed'; detail: string };

export interface ProcessOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** `ENOENT`, `EACCES`, `ETIMEDOUT`... when the process could not run (or was killed). */
  errorCode?: string;
}

/** What a probe's exit code and output mean. */
export function interpretProbe(outcome: ProcessOutcome): ProbeResult {
  if (outcome.errorCode === 'ENOENT' || outcome.errorCode === 'EACCES') return { kind: 'not-found' };
  if (outcome.errorCode) return { kind: 'failed', detail: outcome.errorCode };
  if (outcome.exitCode !== 0) {
    if (/ModuleNotFoundError|No module named/.test(outcome.stderr)) return { kind: 'missing' };
    const last = outcome.stderr.trim().split('\n').pop() ?? '';
    return { kind: 'failed', detail: last || `exit code ${outcome.exitCode}` };
  }
  const version = outcome.stdout.trim().split(/\s+/).pop() ?? '';
  if (!/^\d+\.\d+\.\d+/.test(version)) return { kind: 'too-old', version: version || 'unknown' };
  if (compareVersions(version, MIN_SERVER_VERSION) < 0) return { kind: 'too-old', version };
  return { kind: 'ok', version };
}

/** -1, 0, 1 comparing dotted numeric versions (`0.10.0` > `0.9.1`; a suffix is ignored). */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.+-]/).slice(0, 3).map((p) => parseInt(p, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  }
  return 0;
}

/**
 * The candidate to start: the first with a working Osiris, else the first candidate (whose probe
 * result the caller reports). `probe` is called lazily, in order.
 */
export async function chooseCandidate(
  candidates: Candidate[], probe: (c: Candidate) => Promise<ProbeResult>,
): Promise<{ candidate: Candidate; result: ProbeResult } | undefined> {
  let first: { candidate: Candidate; result: ProbeResult } | undefined;
  for (const candidate of candidates) {
    const result = await probe(candidate);
    if (result.kind === 'ok') return { candidate, result };
    first ??= { candidate, result };
    if (candidate.explicit) break;
  }
  return first;
}

/** The pip command that installs Osiris into a Python candidate. */
export function installCommand(python: string, spec: string): { command: string; args: string[] } {
  return { command: python, args: ['-m', 'pip', 'install', '--upgrade', ...spec.split(/\s+/).filter(Boolean)] };
}

/** One sentence for a probe that did not find a usable Osiris. */
export function describeProblem(candidate: Candidate, result: ProbeResult): string {
  const where = `${candidate.command} (${candidate.source})`;
  switch (result.kind) {
    case 'missing': return `Osiris is not installed in ${where}.`;
    case 'too-old': return `Osiris ${result.version} in ${where} is too old (this extension needs ${MIN_SERVER_VERSION} or newer).`;
    case 'not-found': return `${where} does not exist or cannot be run.`;
    case 'failed': return `${where} could not report its Osiris version: ${result.detail}`;
    case 'ok': return `Osiris ${result.version} in ${where}.`;
  }
}

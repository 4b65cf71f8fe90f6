// Starting the language server: find it (lookup.ts), probe its version before starting it, start
// it with a bounded number of restarts, check the handshake, and say plainly what went wrong.
// `start()` never throws and never waits on a server that cannot start: activation stays fast.
// The process gets the editor's environment plus `serverEnv()` (the stored AI API key, aiKey.ts);
// a change of that restarts it.
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, RevealOutputChannelOn, State, TransportKind,
} from 'vscode-languageclient/node';
import { PROCESS_SETTINGS, readSettings, serverInitOptions, type OsirisSettings } from '../settings';
import type { ServerState } from '../status';
import {
  Candidate, chooseCandidate, compareVersions, describeProblem, installCommand, interpretProbe,
  MIN_SERVER_VERSION, ProbeResult, probeCommand, serverCandidates, serverCommand,
} from './lookup';
import { pythonExtensionInterpreter, selectInterpreter } from './python';

const PROBE_TIMEOUT_MS = 20_000;
const START_TIMEOUT_MS = 30_000;
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 3 * 60_000;
/** Server commands the editor's commands call. */
export const SERVER_COMMANDS = {
  compile: 'osiris.compile', run: 'osiris.run', componentDoc: 'osiris.componentDoc', generate: 'osiris.generate',
};

export interface LaunchEvents {
  onState(state: ServerState, detail?: string): void;
}

function isFile(p: string): boolean {
  try { return fs.statSync(p).isFile(); } catch { return false; }
}

export function currentSettings(): OsirisSettings {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const config = vscode.workspace.getConfiguration('osiris');
  return readSettings((key) => config.get(key), folder);
}

/** The server's working directory; the probe runs there too (`python -c` and `-m` both import from it). */
function serverCwd(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function probe(candidate: Candidate): Promise<ProbeResult> {
  const { command, args } = probeCommand(candidate);
  return new Promise((resolve) => {
    execFile(command, args, { timeout: PROBE_TIMEOUT_MS, encoding: 'utf8', cwd: serverCwd() }, (error, stdout, stderr) => {
      const code = error && typeof (error as NodeJS.ErrnoException).code === 'string' ? (error as NodeJS.ErrnoException).code : undefined;
      const killed = error && (error as { killed?: boolean }).killed ? 'ETIMEDOUT' : undefined;
      const exitCode = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
      resolve(interpretProbe({ exitCode, stdout, stderr, errorCode: killed ?? code }));
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

export class ServerLauncher implements vscode.Disposable {
  client: LanguageClient | undefined;
  /** The candidate the running (or last tried) server came from. */
  candidate: Candidate | undefined;
  serverVersion: string | undefined;
  private starting: Promise<void> | undefined;
  private shownProblem: string | undefined;
  private restarts: number[] = [];
  /** The extra environment the running server was started with, to notice a change (a new API key). */
  private startedEnv: string | undefined;
  private envCheck: Promise<void> = Promise.resolve();

  constructor(private readonly output: vscode.OutputChannel, private readonly events: LaunchEvents,
    private readonly clientOptions: () => Partial<LanguageClientOptions>,
    private readonly serverEnv: () => Promise<Record<string, string>> = async () => ({})) {}

  /** Start (or restart) the server; resolves when it is ready or when the problem has been reported. */
  start(): Promise<void> {
    if (!this.starting) this.starting = this.doStart().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  async restart(): Promise<void> {
    this.shownProblem = undefined;  // asked for explicitly: show the problem again if it persists
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.stop(2000).catch(() => undefined);
  }

  isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  /** Restart when the extra environment (the stored API key) is not the running server's; resolves when done. */
  restartOnEnvChange(): Promise<void> {
    this.envCheck = this.envCheck.then(async () => {
      await this.starting;
      const env = JSON.stringify(await this.serverEnv());
      if (this.client && env !== this.startedEnv) {
        this.output.appendLine('[osiris] the AI API key changed: restarting the language server');
        await this.restart();
      }
    }).catch(() => undefined);
    return this.envCheck;
  }

  private async doStart(): Promise<void> {
    this.events.onState('starting');
    const settings = currentSettings();
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const fromPythonExtension = settings.serverPath || settings.pythonPath ? undefined : await pythonExtensionInterpreter();
    const candidates = serverCandidates({
      settings, workspaceFolders: folders, pythonExtensionInterpreter: fromPythonExtension,
      pathDirs: (process.env.PATH ?? '').split(path.delimiter).filter(Boolean), isFile,
    });
    const chosen = await chooseCandidate(candidates, async (c) => {
      const result = await probe(c);
      this.output.appendLine(`[osiris] ${describeProblem(c, result)}`);
      return result;
    });
    if (!chosen) {
      this.fail('no Python interpreter found', 'Osiris: no Python interpreter was found to run the language server.', undefined);
      return;
    }
    this.candidate = chosen.candidate;
    if (chosen.result.kind !== 'ok') {
      this.fail(chosen.result.kind, `Osiris: ${describeProblem(chosen.candidate, chosen.result)}`, chosen.candidate);
      return;
    }
    await this.startClient(chosen.candidate, settings, chosen.result.version);
  }

  private async startClient(candidate: Candidate, settings: OsirisSettings, probedVersion: string): Promise<void> {
    const { command, args } = serverCommand(candidate, settings.serverArgs);
    this.output.appendLine(`[osiris] starting ${command} ${args.join(' ')} (from ${candidate.source})`);
    this.restarts = [];
    const extraEnv = await this.serverEnv();
    this.startedEnv = JSON.stringify(extraEnv);
    const env = Object.keys(extraEnv).length ? { ...process.env, ...extraEnv } : undefined;  // undefined: inherit
    const client = new LanguageClient('osiris', 'Osiris OML',
      { command, args, transport: TransportKind.stdio, options: { cwd: serverCwd(), env } },
      {
        outputChannel: this.output,
        revealOutputChannelOn: RevealOutputChannelOn.Never,
        initializationOptions: serverInitOptions(settings),
        initializationFailedHandler: () => false,  // report it once, no retry loop
        errorHandler: {
          error: () => ({ action: ErrorAction.Continue }),
          closed: () => this.onClosed(),
        },
        ...this.clientOptions(),
      });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Running) this.events.onState('ready', `Osiris ${this.serverVersion ?? probedVersion}`);
    });
    this.client = client;
    try {
      await withTimeout(client.start(), START_TIMEOUT_MS, 'starting the language server');
    } catch (err) {
      this.client = undefined;
      void client.stop(1000).catch(() => undefined);
      this.fail('start-failed', `Osiris: the language server did not start (${(err as Error).message ?? err}); its error is in the Osiris output.`, candidate);
      return;
    }
    this.checkHandshake(client);
    this.events.onState('ready', `Osiris ${this.serverVersion} from ${candidate.source}`);
  }

  /** The server's own version and commands must match what this extension calls. */
  private checkHandshake(client: LanguageClient): void {
    const init = client.initializeResult;
    this.serverVersion = init?.serverInfo?.version;
    const commands = init?.capabilities.executeCommandProvider?.commands ?? [];
    const missing = Object.values(SERVER_COMMANDS).filter((c) => !commands.includes(c));
    const old = !this.serverVersion || compareVersions(this.serverVersion, MIN_SERVER_VERSION) < 0;
    if (old || missing.length) {
      const message = `Osiris: the language server (${init?.serverInfo?.name ?? '?'} ${this.serverVersion ?? 'unknown version'}) `
        + `is older than this extension expects (${MIN_SERVER_VERSION})${missing.length ? `; missing commands: ${missing.join(', ')}` : ''}.`;
      this.output.appendLine(`[osiris] ${message}`);
      void vscode.window.showWarningMessage(message, 'Install into this interpreter', 'Show output').then((pick) => {
        if (pick === 'Install into this interpreter') void vscode.commands.executeCommand('osiris.installIntoInterpreter');
        if (pick === 'Show output') this.output.show(true);
      });
    }
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.output.appendLine(`[osiris] the language server stopped ${MAX_RESTARTS + 1} times in a few minutes; not restarting it`);
      this.events.onState('error', 'the server keeps crashing');
      void vscode.window.showErrorMessage('Osiris: the language server keeps crashing (see the Osiris output).',
        'Show output', 'Restart').then((pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Restart') void this.restart();
      });
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.restarts.push(now);
    this.events.onState('starting', 'restarting after a crash');
    return { action: CloseAction.Restart, handled: true };
  }

  /** One notification per distinct problem; the status bar keeps showing it. */
  private fail(key: string, message: string, candidate: Candidate | undefined): void {
    this.events.onState('error', message.replace(/^Osiris: /, ''));
    this.output.appendLine(`[osiris] ${message}`);
    const problemKey = `${key}:${candidate?.command ?? ''}`;
    if (this.shownProblem === problemKey) return;
    this.shownProblem = problemKey;
    const actions = candidate?.kind === 'python' ? ['Install into this interpreter', 'Select interpreter', 'Open settings']
      : ['Select interpreter', 'Open settings'];
    void vscode.window.showErrorMessage(message, ...actions).then((pick) => {
      if (pick === 'Install into this interpreter') void vscode.commands.executeCommand('osiris.installIntoInterpreter');
      if (pick === 'Select interpreter') void vscode.commands.executeCommand('osiris.selectInterpreter');
      if (pick === 'Open settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'osiris.');
    });
  }

  /** pip-install Osiris into the interpreter the server would run in, with progress; then restart. */
  async installIntoInterpreter(): Promise<void> {
    const candidate = this.candidate;
    if (!candidate || candidate.kind !== 'python') {
      void vscode.window.showErrorMessage('Osiris: no Python interpreter to install into; select one first.', 'Select interpreter')
        .then((pick) => pick && vscode.commands.executeCommand('osiris.selectInterpreter'));
      return;
    }
    const { command, args } = installCommand(candidate.command, currentSettings().installSpec);
    this.output.appendLine(`[osiris] ${command} ${args.join(' ')}`);
    const code = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Osiris: installing into ${candidate.command}`, cancellable: true },
      (progress, token) => new Promise<number | null>((resolve) => {
        const proc = spawn(command, args, { env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
        token.onCancellationRequested(() => proc.kill());
        const onData = (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach((line) => {
          this.output.appendLine(`  ${line}`);
          progress.report({ message: line.slice(0, 80) });
        });
        proc.stdout.on('data', onData);
        proc.stderr.on('data', onData);
        proc.on('error', (err) => { this.output.appendLine(`  ${err.message}`); resolve(null); });
        proc.on('close', resolve);
      }));
    if (code === 0) {
      void vscode.window.showInformationMessage(`Osiris: installed into ${candidate.command}.`);
      await this.restart();
    } else {
      void vscode.window.showErrorMessage(`Osiris: pip failed (exit ${code ?? 'error'}); see the Osiris output.`, 'Show output')
        .then((pick) => pick && this.output.show(true));
    }
  }

  async selectInterpreter(): Promise<void> {
    if (await selectInterpreter() === 'python-extension') await this.restart();
  }

  /** Restart when a setting that picks the process changes. */
  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (PROCESS_SETTINGS.some((s) => event.affectsConfiguration(s))) void this.restart();
  }

  dispose(): void {
    void this.stop();
  }
}

// The editor's commands: Compile, Run (engine, progress, summary, failure diagnostic), component
// documentation. Each calls one server command and presents its result (results.ts).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, WorkDoneProgress } from 'vscode-languageclient/node';
import { looksLikeOml } from './detect';
import { currentSettings, SERVER_COMMANDS, type ServerLauncher } from './launch/server';
import {
  CommandResult, GenerateResult, isCommandResult, LspRange, Rendered, renderCompile, renderGenerate, renderRun, renderServerCommand,
} from './results';

type Kind = 'compile' | 'run';

export interface RunRequest {
  engine?: 'local' | 'e2b';
  allowUnset?: boolean;
}

/** Diagnostics of the last run (the failing step), cleared on the next edit of that file or the next run. */
export class RunDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('osiris-run');
  private readonly subscription = vscode.workspace.onDidChangeTextDocument((e) => {
    if (e.contentChanges.length) this.collection.delete(e.document.uri);
  });

  show(uri: vscode.Uri, range: LspRange, message: string): void {
    const r = new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
    const diagnostic = new vscode.Diagnostic(r, message, vscode.DiagnosticSeverity.Error);
    diagnostic.source = 'osiris run';
    diagnostic.code = 'run.step-failed';
    this.collection.set(uri, [diagnostic]);
  }

  clear(uri: vscode.Uri): void {
    this.collection.delete(uri);
  }

  dispose(): void {
    this.subscription.dispose();
    this.collection.dispose();
  }
}

export class PipelineCommands {
  constructor(private readonly launcher: ServerLauncher, private readonly output: vscode.OutputChannel,
    private readonly runDiagnostics: RunDiagnostics, private readonly storage: vscode.Uri) {}

  /** The pipeline to act on: the given URI (code lens, Runs view), else the active editor's. */
  private async pipeline(uri?: vscode.Uri): Promise<vscode.TextDocument | undefined> {
    if (uri instanceof vscode.Uri) return vscode.workspace.openTextDocument(uri);
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && (doc.languageId === 'oml' || looksLikeOml(doc.getText()))) return doc;
    void vscode.window.showWarningMessage('Osiris: open an OML pipeline first (a YAML file with `oml_version:`).');
    return undefined;
  }

  private async ready(): Promise<boolean> {
    if (this.launcher.isRunning()) return true;
    await this.launcher.start();
    if (this.launcher.isRunning()) return true;
    void vscode.window.showErrorMessage('Osiris: the language server is not running.', 'Show output', 'Restart')
      .then((pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Restart') void this.launcher.restart();
      });
    return false;
  }

  /** One server command with a cancellable progress notification fed by the server's progress. */
  private async execute(kind: Kind, doc: vscode.TextDocument, extra: unknown[] = []): Promise<CommandResult | undefined> {
    const client = this.launcher.client;
    if (!client || !(await this.ready())) return undefined;
    const name = path.basename(doc.uri.fsPath);
    const token = `osiris-${kind}-${Date.now()}`;
    this.output.appendLine(`[osiris] ${kind} ${doc.uri.fsPath}`);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Osiris: ${kind === 'compile' ? 'compiling' : 'running'} ${name}`, cancellable: true },
      async (progress, cancelled) => {
        let last = 0;
        const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
          if (value.kind === 'end') return;
          const pct = typeof value.percentage === 'number' ? value.percentage : last;
          progress.report({ message: value.message?.replace(/^\[osiris\] /, ''), increment: Math.max(0, pct - last) });
          last = pct;
        });
        try {
          const result: unknown = await client.sendRequest(ExecuteCommandRequest.type,
            { command: SERVER_COMMANDS[kind], arguments: [doc.uri.toString(), ...extra], workDoneToken: token }, cancelled);
          if (!isCommandResult(result)) throw new Error(`unexpected result ${JSON.stringify(result)}`);
          return result;
        } catch (err) {
          if (cancelled.isCancellationRequested) return { ok: false, command: kind, cancelled: true };
          const message = err instanceof Error ? err.message : String(err);
          this.output.appendLine(`[osiris] ${kind} failed: ${message}`);
          void vscode.window.showErrorMessage(`Osiris: ${kind} failed: ${message}`, 'Show output')
            .then((pick) => pick && this.output.show(true));
          return undefined;
        } finally {
          sub.dispose();
        }
      });
  }

  private log(rendered: Rendered): void {
    this.output.appendLine(`[osiris] ${rendered.headline}`);
    rendered.lines.forEach((line) => this.output.appendLine(`  ${line}`));
  }

  private toast(rendered: Rendered, ...actions: string[]): Thenable<string | undefined> {
    const show = rendered.severity === 'error' ? vscode.window.showErrorMessage
      : rendered.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    return show(`Osiris: ${rendered.headline}`, ...actions);
  }

  async compile(uri?: vscode.Uri): Promise<CommandResult | undefined> {
    const doc = await this.pipeline(uri);
    const result = doc && await this.execute('compile', doc);
    if (!result) return undefined;
    const rendered = renderCompile(result);
    this.log(rendered);
    if (result.ok && result.manifest) {
      const manifest = vscode.Uri.file(result.manifest);
      await vscode.window.showTextDocument(manifest, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
      void this.toast(rendered, 'Open manifest').then((pick) => {
        if (pick) void vscode.window.showTextDocument(manifest, { viewColumn: vscode.ViewColumn.Beside });
      });
    } else {
      void this.toast(rendered, 'Show output', 'Show problems').then((pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Show problems') void vscode.commands.executeCommand('workbench.actions.view.problems');
      });
    }
    return result;
  }

  private async engine(): Promise<'local' | 'e2b' | undefined> {
    const setting = currentSettings().runEngine;
    if (setting !== 'ask') return setting;
    const pick = await vscode.window.showQuickPick([
      { label: 'local', description: 'on this machine' },
      { label: 'e2b', description: 'in an E2B sandbox' },
    ], { title: 'Osiris: run where?', placeHolder: 'Engine (set osiris.runEngine to skip this question)' });
    return pick?.label as 'local' | 'e2b' | undefined;
  }

  async run(uri?: vscode.Uri, request: RunRequest = {}): Promise<CommandResult | undefined> {
    const doc = await this.pipeline(uri);
    if (!doc) return undefined;
    const engine = request.engine ?? await this.engine();
    if (!engine) return undefined;
    this.runDiagnostics.clear(doc.uri);
    const result = await this.execute('run', doc, [{ engine, allowUnset: request.allowUnset === true }]);
    if (!result) return undefined;
    const rendered = renderRun(result);
    this.log(rendered);
    if (result.not_started) {
      void this.toast(rendered, 'Run anyway', 'Open settings').then((pick) => {
        if (pick === 'Run anyway') void this.run(doc.uri, { engine, allowUnset: true });
        if (pick === 'Open settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'osiris.secretsFile');
      });
    } else if (result.ok) {
      const actions = [...(result.outputs?.length ? ['Open output'] : []), ...(result.run_dir ? ['Open run directory'] : [])];
      void this.toast(rendered, ...actions).then((pick) => {
        if (pick === 'Open output' && result.outputs?.[0]) void vscode.window.showTextDocument(vscode.Uri.file(result.outputs[0]));
        if (pick === 'Open run directory' && result.run_dir) void openRunDirectory(result.run_dir);
      });
    } else if (!result.cancelled) {
      if (result.failed_step_range) {
        this.runDiagnostics.show(doc.uri, result.failed_step_range, `run failed: ${result.error ?? 'see the Osiris output'}`);
      }
      void this.toast(rendered, 'Show output', ...(result.run_dir ? ['Open run directory'] : [])).then((pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Open run directory' && result.run_dir) void openRunDirectory(result.run_dir);
      });
    } else {
      void this.toast(rendered);
    }
    void vscode.commands.executeCommand('osiris.refreshRuns');
    return result;
  }

  /**
   * Osiris: Generate pipeline from a description: the server's validated LLM loop writes a new file.
   * Its progress notification shows each attempt and can be cancelled (the server closes the
   * request in flight and writes nothing). `again`: the description of a previous try, asked again
   * once the missing API key was set.
   */
  async generate(again?: string): Promise<GenerateResult | undefined> {
    if (!this.launcher.client || !(await this.ready())) return undefined;
    const request = again ?? await vscode.window.showInputBox({
      title: 'Osiris: Generate pipeline', prompt: 'Describe the pipeline (sources, targets, what happens between)',
      placeHolder: 'Copy the MySQL orders table into Supabase, upserting by id', ignoreFocusOut: true,
    });
    if (!request?.trim()) return undefined;
    const client = this.launcher.client;
    if (!client) return undefined;
    const active = vscode.window.activeTextEditor;
    const folder = (active && vscode.workspace.getWorkspaceFolder(active.document.uri)) ?? vscode.workspace.workspaceFolders?.[0];
    const args = folder ? [request, folder.uri.toString()] : [request];
    const token = `osiris-generate-${Date.now()}`;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Osiris: generating a pipeline', cancellable: true },
      async (progress, cancelled): Promise<GenerateResult | undefined> => {
        const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
          if (value.kind !== 'end' && value.message) progress.report({ message: value.message });
        });
        try {
          return await client.sendRequest(ExecuteCommandRequest.type,
            { command: SERVER_COMMANDS.generate, arguments: args, workDoneToken: token }, cancelled) as GenerateResult;
        } catch (err) {
          if (cancelled.isCancellationRequested) return { ok: false, cancelled: true };
          const message = err instanceof Error ? err.message : String(err);
          this.output.appendLine(`[osiris] generate failed: ${message}`);
          void vscode.window.showErrorMessage(`Osiris: generate failed: ${message}`, 'Show output')
            .then((pick) => pick && this.output.show(true));
          return undefined;
        } finally {
          sub.dispose();
        }
      });
    if (!result) return undefined;
    const rendered = renderGenerate(result);
    this.log(rendered);
    if (rendered.uri) {
      await vscode.window.showTextDocument(vscode.Uri.parse(rendered.uri));
      void this.toast(rendered);
    } else if (rendered.remedy === 'setApiKey') {
      void this.toast(rendered, 'Set AI API key', 'Show output').then(async (pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Set AI API key' && await vscode.commands.executeCommand<boolean>('osiris.setApiKey')) void this.generate(request);
      });
    } else if (rendered.remedy === 'openAiSettings') {
      void this.toast(rendered, 'Open settings', 'Show output').then((pick) => {
        if (pick === 'Show output') this.output.show(true);
        if (pick === 'Open settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'osiris.ai');
      });
    } else if (result.cancelled) {
      void this.toast(rendered);  // info, no buttons: the user asked for it
    } else {
      void this.toast(rendered, 'Show output').then((pick) => pick && this.output.show(true));
    }
    return result;
  }

  /** A server command of a code lens other than Compile/Run (Discover, Preview): progress, then its result. */
  async serverCommand(command: string, args: unknown[]): Promise<unknown> {
    const client = this.launcher.client;
    if (!client || !(await this.ready())) return undefined;
    const name = command.replace(/^osiris\./, '');
    const token = `osiris-${name}-${Date.now()}`;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Osiris: ${name}`, cancellable: true },
      async (progress, cancelled) => {
        const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
          if (value.kind !== 'end') progress.report({ message: value.message });
        });
        try {
          return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args, workDoneToken: token }, cancelled);
        } catch (err) {
          return { ok: false, message: err instanceof Error ? err.message : String(err) };
        } finally {
          sub.dispose();
        }
      });
    const rendered = renderServerCommand(name, result);
    this.log(rendered);
    if (rendered.markdown) await this.showMarkdown(`${name}-${Date.now()}`, rendered.markdown);
    else void this.toast(rendered);
    return result;
  }

  private async showMarkdown(name: string, markdown: string): Promise<void> {
    const dir = vscode.Uri.joinPath(this.storage, 'pages');
    await vscode.workspace.fs.createDirectory(dir);
    const page = vscode.Uri.joinPath(dir, `${name}.md`);
    await vscode.workspace.fs.writeFile(page, Buffer.from(markdown, 'utf8'));
    await vscode.commands.executeCommand('markdown.showPreviewToSide', page);
  }

  /** The component page of the step under the cursor, rendered as Markdown beside the pipeline. */
  async showComponentDoc(): Promise<string | undefined> {
    const editor = vscode.window.activeTextEditor;
    const doc = await this.pipeline();
    const client = this.launcher.client;
    if (!doc || !editor || !client || !(await this.ready())) return undefined;
    const position = editor.selection.active;
    const result = await client.sendRequest(ExecuteCommandRequest.type, {
      command: SERVER_COMMANDS.componentDoc, arguments: [doc.uri.toString(), { line: position.line, character: position.character }],
    }) as { component?: string; markdown?: string; error?: string };
    if (!result?.markdown || !result.component) {
      void vscode.window.showWarningMessage(`Osiris: ${result?.error ?? 'no component documentation here'}`);
      return undefined;
    }
    await this.showMarkdown(result.component, result.markdown);
    return result.component;
  }
}

/** A run directory: reveal it in the Explorer when it is in the workspace, else open its status file. */
export async function openRunDirectory(dir: string): Promise<void> {
  const uri = vscode.Uri.file(dir);
  if (vscode.workspace.getWorkspaceFolder(uri)) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
    return;
  }
  const status = path.join(dir, 'status.json');
  if (fs.existsSync(status)) await vscode.window.showTextDocument(vscode.Uri.file(status));
}

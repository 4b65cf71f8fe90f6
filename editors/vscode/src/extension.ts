// Osiris OML for VS Code. activate() only wires things up and returns at once: the server is
// started in the background (launch/server.ts), so a missing or broken Osiris never blocks the
// editor, and every command works (or says why it cannot) from the first moment.
import * as path from 'path';
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';
import { AiKey } from './aiKey';
import { openRunDirectory, PipelineCommands, RunDiagnostics } from './commands';
import { isConnectionsFile, isOsirisOutput, looksLikeOml } from './detect';
import { SERVER_COMMANDS, ServerLauncher } from './launch/server';
import { renderRun } from './results';
import { StatusItem } from './status';
import { findPipeline, runOf, RunsView } from './views/runs';

/** Plain YAML files that are pipelines get the `oml` language (title-bar Run, grammar, server). */
function detectLanguage(doc: vscode.TextDocument): void {
  if (doc.languageId === 'yaml' && doc.uri.scheme === 'file' && !isConnectionsFile(doc.uri.fsPath)
    && !isOsirisOutput(doc.uri.fsPath) && looksLikeOml(doc.getText())) {
    void vscode.languages.setTextDocumentLanguage(doc, 'oml');
  }
}

/**
 * The server's code lenses name its raw commands, which would run with no progress and no result
 * shown: route Compile and Run through the editor's commands, any other (Discover, Preview)
 * through `osiris.serverCommand` (progress, then its result).
 */
const middleware: Middleware = {
  provideCodeLenses: async (document, token, next) => {
    const lenses = await next(document, token);
    for (const lens of lenses ?? []) {
      const command = lens.command;
      if (!command) continue;
      if (command.command === SERVER_COMMANDS.compile) lens.command = { ...command, command: 'osiris.compilePipeline', arguments: [document.uri] };
      else if (command.command === SERVER_COMMANDS.run) lens.command = { ...command, command: 'osiris.runPipeline', arguments: [document.uri] };
      else if (command.command.startsWith('osiris.')) {
        lens.command = { ...command, command: 'osiris.serverCommand', arguments: [command.command, command.arguments ?? []] };
      }
    }
    return lenses;
  },
};

export function activate(context: vscode.ExtensionContext) {
  const output = vscode.window.createOutputChannel('Osiris');
  const status = new StatusItem();
  const launcher: ServerLauncher = new ServerLauncher(output, { onState: (state, detail) => status.setState(state, detail) }, () => ({
    documentSelector: [
      { scheme: 'file', language: 'oml' }, { scheme: 'untitled', language: 'oml' },
      { scheme: 'file', language: 'yaml', pattern: '**/osiris_connections.{yaml,yml}' },
    ],
    middleware,
    synchronize: {
      configurationSection: 'osiris',
      fileEvents: vscode.workspace.createFileSystemWatcher(
        '**/{osiris_connections.yaml,osiris_connections.yml,.env,components/**/*.yaml,components/**/*.json}'),
    },
  }), (): Promise<Record<string, string>> => aiKey.serverEnv());
  const aiKey: AiKey = new AiKey(context.secrets, (): Promise<void> => launcher.restartOnEnvChange());
  const runDiagnostics = new RunDiagnostics();
  const commands = new PipelineCommands(launcher, output, runDiagnostics, context.globalStorageUri);
  const runs = new RunsView();
  const command = (id: string, fn: (...args: any[]) => unknown) => vscode.commands.registerCommand(id, fn);

  context.subscriptions.push(
    output, status, launcher, aiKey, runDiagnostics, runs,
    vscode.window.registerTreeDataProvider('osiris.runs', runs),
    command('osiris.compilePipeline', (uri?: vscode.Uri) => commands.compile(uri)),
    command('osiris.runPipeline', (uri?: vscode.Uri) => commands.run(uri)),
    command('osiris.showComponentDoc', () => commands.showComponentDoc()),
    command('osiris.generatePipeline', () => commands.generate()),
    command('osiris.setApiKey', async () => {
      const stored = await aiKey.set();
      if (stored) await launcher.restartOnEnvChange();  // resolves once the server has the key
      return stored;
    }),
    command('osiris.clearApiKey', async () => { await aiKey.clear(); await launcher.restartOnEnvChange(); }),
    command('osiris.serverCommand', (name: string, args: unknown[]) => commands.serverCommand(name, args)),
    command('osiris.showOutput', () => output.show(true)),
    command('osiris.restartServer', () => launcher.restart()),
    command('osiris.selectInterpreter', () => launcher.selectInterpreter()),
    command('osiris.installIntoInterpreter', () => launcher.installIntoInterpreter()),
    command('osiris.refreshRuns', () => runs.refresh()),
    command('osiris.openRunEvents', (node: unknown) => openRunFile(node, 'events.jsonl')),
    command('osiris.openRunMetrics', (node: unknown) => openRunFile(node, 'metrics.json')),
    command('osiris.openRunDirectory', (node: unknown) => { const run = runOf(node); return run && openRunDirectory(run.dir); }),
    command('osiris.rerun', async (node: unknown) => {
      const run = runOf(node);
      const pipeline = run && await findPipeline(run);
      if (!pipeline) return vscode.window.showWarningMessage(`Osiris: no pipeline named ${run?.pipeline ?? '?'} in this workspace.`);
      return commands.run(pipeline);
    }),
    vscode.workspace.onDidOpenTextDocument(detectLanguage),
    vscode.workspace.onDidChangeConfiguration((e) => launcher.onConfigurationChanged(e)),
  );
  vscode.workspace.textDocuments.forEach(detectLanguage);
  void launcher.start();
  // For tests and other extensions: the client and the pure renderers.
  return { launcher, renderRun, get client() { return launcher.client; } };
}

async function openRunFile(node: unknown, name: string): Promise<void> {
  const run = runOf(node);
  if (run) await vscode.window.showTextDocument(vscode.Uri.file(path.join(run.dir, name)), { preview: true });
}

export function deactivate(): Thenable<void> | undefined {
  return undefined;  // the launcher is in context.subscriptions and stops the server
}

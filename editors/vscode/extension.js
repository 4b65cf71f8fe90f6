'use strict';
// VS Code client for osiris-lsp. All language smarts live in the server; this file starts it,
// forwards settings and file events, and turns the server's Compile/Run commands into editor
// commands with progress, cancellation and a readable result.
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');
const {
  LanguageClient, TransportKind, State, WorkDoneProgress, ExecuteCommandRequest,
} = require('vscode-languageclient/node');
const { resolveServerCommand, serverSettings } = require('./lib/serverCommand');
const { describeResult } = require('./lib/commandResult');
const { describeGenerateResult } = require('./lib/generateResult');

// Command ids the server offers through workspace/executeCommand.
const SERVER_COMMANDS = { compile: 'osiris.compile', run: 'osiris.run', generate: 'osiris.generate' };

let client;
let output;

function isFile(p) {
  try { return fs.statSync(p).isFile(); } catch { return false; }
}

function readSettings() {
  const c = vscode.workspace.getConfiguration('osiris');
  return {
    serverPath: c.get('serverPath'), pythonPath: c.get('pythonPath'), serverArgs: c.get('serverArgs'),
    componentsPath: c.get('componentsPath'), connectionsFile: c.get('connectionsFile'),
    runEngine: c.get('runEngine'), secretsFile: c.get('secretsFile'),
  };
}

function workspacePaths() {
  return (vscode.workspace.workspaceFolders || []).map((f) => f.uri.fsPath);
}

function createClient() {
  const settings = readSettings();
  const server = resolveServerCommand(settings, workspacePaths(), isFile);
  output.appendLine(`[osiris] starting ${server.command} ${server.args.join(' ')} (from ${server.why})`);
  const serverOptions = {
    command: server.command, args: server.args, transport: TransportKind.stdio,
    options: { cwd: workspacePaths()[0] },
  };
  const clientOptions = {
    // *.oml.yaml / *.oml.yml have the `oml` language; other YAML files go to the server too,
    // which serves only those with a top-level `oml_version`.
    documentSelector: [
      { scheme: 'file', language: 'oml' }, { scheme: 'untitled', language: 'oml' },
      { scheme: 'file', language: 'yaml' },
    ],
    initializationOptions: serverSettings(settings),
    outputChannel: output,
    synchronize: {
      configurationSection: 'osiris',
      fileEvents: vscode.workspace.createFileSystemWatcher(
        '**/{osiris_connections.yaml,osiris_connections.yml,.env,components/**/*.yaml,components/**/*.json}'),
    },
  };
  return new LanguageClient('osiris', 'Osiris OML', serverOptions, clientOptions);
}

async function startClient() {
  client = createClient();
  client.onDidChangeState(({ newState }) => {
    if (newState === State.Stopped) output.appendLine('[osiris] language server stopped');
  });
  try {
    await client.start();
  } catch (err) {
    const pick = await vscode.window.showErrorMessage(
      `Osiris: the language server did not start (${err.message || err}). Set osiris.serverPath or osiris.pythonPath.`,
      'Open settings', 'Show output');
    if (pick === 'Open settings') vscode.commands.executeCommand('workbench.action.openSettings', 'osiris.');
    if (pick === 'Show output') output.show(true);
  }
}

function pipelineDocument() {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const doc = editor.document;
  if (doc.languageId === 'oml' || /^oml_version\s*:/m.test(doc.getText())) return doc;
  return undefined;
}

async function runServerCommand(kind) {
  const doc = pipelineDocument();
  if (!doc) {
    vscode.window.showWarningMessage('Osiris: open an OML pipeline (*.oml.yaml) first.');
    return undefined;
  }
  if (!client || !client.isRunning()) {
    vscode.window.showErrorMessage('Osiris: the language server is not running (Osiris: Restart language server).');
    return undefined;
  }
  const title = kind === 'compile' ? 'Compiling' : 'Running';
  const name = path.basename(doc.uri.fsPath);
  const token = `osiris-${kind}-${Date.now()}`;
  output.appendLine(`[osiris] ${kind} ${doc.uri.toString()}`);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Osiris: ${title} ${name}`, cancellable: true },
    async (progress, cancelled) => {
      let last = 0;   // the server logs each progress message to the output itself
      const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
        const pct = typeof value.percentage === 'number' ? value.percentage : last;
        progress.report({ message: value.message, increment: Math.max(0, pct - last) });
        last = pct;
      });
      try {
        const result = await client.sendRequest(ExecuteCommandRequest.type, {
          command: SERVER_COMMANDS[kind], arguments: [doc.uri.toString()], workDoneToken: token,
        }, cancelled);
        const lines = describeResult(result);
        lines.forEach((l) => output.appendLine(`  ${l}`));
        const failed = !result || result.ok === false;
        const show = failed ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
        show(`Osiris: ${kind}: ${lines[0]}`, 'Show output')
          .then((pick) => pick && output.show(true));
        return result;
      } catch (err) {
        if (cancelled.isCancellationRequested) {
          output.appendLine(`[osiris] ${kind} cancelled`);
          return undefined;
        }
        output.appendLine(`[osiris] ${kind} failed: ${err.message || err}`);
        vscode.window.showErrorMessage(`Osiris: ${kind} failed: ${err.message || err}`, 'Show output')
          .then((pick) => pick && output.show(true));
        return undefined;
      } finally {
        sub.dispose();
      }
    });
}

// Osiris: Generate pipeline from a description -> the server's validated LLM loop -> a new file.
async function generatePipeline() {
  if (!client || !client.isRunning()) {
    vscode.window.showErrorMessage('Osiris: the language server is not running (Osiris: Restart language server).');
    return undefined;
  }
  const request = await vscode.window.showInputBox({
    title: 'Osiris: Generate pipeline', prompt: 'Describe the pipeline (sources, targets, what happens between)',
    placeHolder: 'Copy the MySQL orders table into Supabase, upserting by id', ignoreFocusOut: true,
  });
  if (!request || !request.trim()) return undefined;
  const active = vscode.window.activeTextEditor;
  const folder = (active && vscode.workspace.getWorkspaceFolder(active.document.uri))
    || (vscode.workspace.workspaceFolders || [])[0];
  const args = folder ? [request, folder.uri.toString()] : [request];
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Osiris: generating a pipeline' },
    async () => {
      try {
        const result = await client.sendRequest(ExecuteCommandRequest.type,
          { command: SERVER_COMMANDS.generate, arguments: args });
        const { headline, lines, uri } = describeGenerateResult(result);
        output.appendLine(`[osiris] generate: ${headline}`);
        lines.forEach((l) => output.appendLine(`  ${l}`));
        if (uri) {
          await vscode.window.showTextDocument(vscode.Uri.parse(uri));
          vscode.window.showInformationMessage(`Osiris: ${headline}`);
        } else {
          vscode.window.showErrorMessage(`Osiris: generate: ${headline}`, 'Show output')
            .then((pick) => pick && output.show(true));
        }
        return result;
      } catch (err) {
        output.appendLine(`[osiris] generate failed: ${err.message || err}`);
        vscode.window.showErrorMessage(`Osiris: generate failed: ${err.message || err}`);
        return undefined;
      }
    });
}

exports.activate = async function activate(context) {
  output = vscode.window.createOutputChannel('Osiris');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('osiris.compilePipeline', () => runServerCommand('compile')),
    vscode.commands.registerCommand('osiris.runPipeline', () => runServerCommand('run')),
    vscode.commands.registerCommand('osiris.generatePipeline', generatePipeline),
    vscode.commands.registerCommand('osiris.showOutput', () => output.show(true)),
    vscode.commands.registerCommand('osiris.restartServer', async () => {
      if (client) await client.stop().catch(() => undefined);
      await startClient();
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      // The server reads most settings through workspace/configuration; only the ones that
      // choose the process need a restart.
      if (['osiris.serverPath', 'osiris.pythonPath', 'osiris.serverArgs'].some((s) => e.affectsConfiguration(s))) {
        await vscode.commands.executeCommand('osiris.restartServer');
      }
    }),
  );
  await startClient();
  return { get client() { return client; }, describeResult };
};

exports.deactivate = function deactivate() {
  return client ? client.stop() : undefined;
};

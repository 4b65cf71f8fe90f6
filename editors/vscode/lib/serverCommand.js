'use strict';
// Which process to start as the OML language server. Pure (no vscode import) so it can be
// tested with plain node: settings and a file-existence check in, {command, args, why} out.
const path = require('path');

/**
 * Resolve the server command from the `osiris.*` settings, in this order:
 * 1. `osiris.serverPath` (an osiris-lsp executable),
 * 2. `osiris.pythonPath -m osiris_lsp`,
 * 3. each workspace folder's .venv: `bin/osiris-lsp`, then `bin/python -m osiris_lsp`,
 * 4. `osiris-lsp` on PATH.
 * `${workspaceFolder}` in a setting is replaced by the first workspace folder.
 */
function resolveServerCommand(settings, workspaceFolders, isFile) {
  const folders = workspaceFolders || [];
  const expand = (p) => (p || '').replace(/\$\{workspaceFolder\}/g, folders[0] || '');
  const extra = settings.serverArgs || [];
  const serverPath = expand(settings.serverPath);
  if (serverPath) {
    return { command: serverPath, args: extra, why: 'osiris.serverPath' };
  }
  const pythonPath = expand(settings.pythonPath);
  if (pythonPath) {
    return { command: pythonPath, args: ['-m', 'osiris_lsp', ...extra], why: 'osiris.pythonPath' };
  }
  for (const folder of folders) {
    const venvBin = path.join(folder, '.venv', 'bin');
    if (isFile(path.join(venvBin, 'osiris-lsp'))) {
      return { command: path.join(venvBin, 'osiris-lsp'), args: extra, why: `${folder}/.venv` };
    }
    if (isFile(path.join(venvBin, 'python'))) {
      return { command: path.join(venvBin, 'python'), args: ['-m', 'osiris_lsp', ...extra], why: `${folder}/.venv` };
    }
  }
  return { command: 'osiris-lsp', args: extra, why: 'PATH' };
}

/** The server settings, as sent in initializationOptions (empty values left out). */
function serverSettings(settings) {
  const out = {};
  const components = (settings.componentsPath || []).filter(Boolean);
  if (components.length) out.componentsPath = components;
  if (settings.connectionsFile) out.connectionsFile = settings.connectionsFile;
  if (settings.runEngine) out.runEngine = settings.runEngine;
  if (settings.secretsFile) out.secretsFile = settings.secretsFile;
  return out;
}

module.exports = { resolveServerCommand, serverSettings };

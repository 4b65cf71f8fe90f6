// The Python extension (ms-python.python), when installed: its selected interpreter, and its
// interpreter picker. Without it, "Select interpreter" asks for a file and sets osiris.pythonPath.
import * as vscode from 'vscode';

interface PythonApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment?(env: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: { getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } };
}

const PYTHON_EXTENSION = 'ms-python.python';

async function api(): Promise<PythonApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION);
  if (!ext) return undefined;
  try {
    return ext.isActive ? ext.exports : await Promise.race([
      ext.activate(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
  } catch {
    return undefined;
  }
}

/** The interpreter the Python extension has selected for the first workspace folder, if any. */
export async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const python = await api();
  if (!python) return undefined;
  const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
  try {
    const active = python.environments?.getActiveEnvironmentPath?.(resource);
    if (active?.path) {
      const resolved = await python.environments?.resolveEnvironment?.(active);
      return resolved?.executable?.uri?.fsPath ?? active.path;
    }
    return python.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
  } catch {
    return undefined;
  }
}

/**
 * Let the user pick an interpreter: through the Python extension (`python-extension`), else a file
 * dialog that sets osiris.pythonPath (`setting`: the configuration change restarts the server).
 */
export async function selectInterpreter(): Promise<'python-extension' | 'setting' | undefined> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION)) {
    await vscode.commands.executeCommand('python.setInterpreter');
    return 'python-extension';
  }
  const picked = await vscode.window.showOpenDialog({
    title: 'Python interpreter with Osiris (osiris-oml) installed', canSelectMany: false, openLabel: 'Use this Python',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  if (!picked?.[0]) return undefined;
  const target = vscode.workspace.workspaceFolders ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('osiris').update('pythonPath', picked[0].fsPath, target);
  return 'setting';
}

// The `osiris.*` settings as one typed value. Pure (no vscode import): `readSettings` takes a
// getter, so the unit tests feed it a plain object.

export type RunEngine = 'local' | 'e2b' | 'ask';

export interface OsirisSettings {
  serverPath: string;
  pythonPath: string;
  serverArgs: string[];
  componentsPath: string[];
  connectionsFile: string;
  runEngine: RunEngine;
  secretsFile: string;
  installSpec: string;
}

/** Settings that choose the server process: changing one restarts it. */
export const PROCESS_SETTINGS = ['osiris.serverPath', 'osiris.pythonPath', 'osiris.serverArgs'];

const DEFAULT_INSTALL_SPEC = 'osiris-oml';

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v.trim() !== '') : [];
}

/** Typed settings from a `get(key)` of the `osiris` section; wrong types fall back to defaults. */
export function readSettings(get: (key: string) => unknown, workspaceFolder?: string): OsirisSettings {
  const expand = (p: string) => p.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? '');
  const engine = get('runEngine');
  return {
    serverPath: expand(text(get('serverPath'))),
    pythonPath: expand(text(get('pythonPath'))),
    serverArgs: texts(get('serverArgs')),
    componentsPath: texts(get('componentsPath')).map(expand),
    connectionsFile: expand(text(get('connectionsFile'))),
    runEngine: engine === 'e2b' || engine === 'ask' ? engine : 'local',
    secretsFile: expand(text(get('secretsFile'))),
    installSpec: text(get('installSpec')) || DEFAULT_INSTALL_SPEC,
  };
}

/** What the server reads as initializationOptions (empty values left out; `ask` is the editor's business). */
export function serverInitOptions(settings: OsirisSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (settings.componentsPath.length) out.componentsPath = settings.componentsPath;
  if (settings.connectionsFile) out.connectionsFile = settings.connectionsFile;
  if (settings.runEngine !== 'ask') out.runEngine = settings.runEngine;
  if (settings.secretsFile) out.secretsFile = settings.secretsFile;
  return out;
}

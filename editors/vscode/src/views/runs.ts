// The Runs view: the workspace's recent runs from .osiris/runs (like the GitHub Actions
// extension's runs tree), each with its steps; open events / metrics, re-run.
import * as path from 'path';
import * as vscode from 'vscode';
import { listRuns, RunInfo, runDescription, StepInfo, stepDescription } from './runsModel';

type Node = { kind: 'run'; run: RunInfo } | { kind: 'step'; run: RunInfo; step: StepInfo };

function statusIcon(status: string): vscode.ThemeIcon {
  if (status === 'ok') return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
  if (status === 'failed') return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
  if (status === 'cancelled') return new vscode.ThemeIcon('circle-slash');
  if (status === 'running') return new vscode.ThemeIcon('sync~spin');
  return new vscode.ThemeIcon('circle-outline');
}

export class RunsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly watcher = vscode.workspace.createFileSystemWatcher('**/.osiris/runs/*/status.json');
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    const refresh = () => this.refresh();
    this.subscriptions.push(this.watcher, this.watcher.onDidCreate(refresh), this.watcher.onDidChange(refresh),
      this.watcher.onDidDelete(refresh), this.changed);
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (node?.kind === 'run') return node.run.steps.map((step) => ({ kind: 'step', run: node.run, step }));
    if (node) return [];
    const folders = vscode.workspace.workspaceFolders ?? [];
    const runs = folders.flatMap((f) => listRuns(path.join(f.uri.fsPath, '.osiris', 'runs')));
    return runs.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '')).map((run) => ({ kind: 'run', run }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'run') {
      const { run } = node;
      const item = new vscode.TreeItem(run.pipeline, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = run.dir;
      item.description = `${runDescription(run)}${run.startedAt ? ` · ${new Date(run.startedAt).toLocaleString()}` : ''}`;
      item.iconPath = statusIcon(run.status);
      item.tooltip = new vscode.MarkdownString([`**${run.pipeline}** — ${run.status}`, `run \`${run.id}\``, run.dir,
        ...(run.error ? [`failed${run.failedStep ? ` at \`${run.failedStep}\`` : ''}: ${run.error}`] : [])].join('\n\n'));
      item.contextValue = 'osirisRun';
      item.resourceUri = vscode.Uri.file(run.dir);
      return item;
    }
    const item = new vscode.TreeItem(node.step.step, vscode.TreeItemCollapsibleState.None);
    item.id = `${node.run.dir}#${node.step.step}`;
    item.description = stepDescription(node.step);
    item.iconPath = statusIcon(node.step.status);
    item.contextValue = 'osirisRunStep';
    item.command = { command: 'osiris.openRunEvents', title: 'Open events', arguments: [node] };
    return item;
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
  }
}

export function runOf(node: unknown): RunInfo | undefined {
  return typeof node === 'object' && node !== null && 'run' in node ? (node as { run: RunInfo }).run : undefined;
}

/** The pipeline file a run came from: a workspace YAML file with `oml_version` and the run's `name`. */
export async function findPipeline(run: RunInfo): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles('**/*.{yaml,yml}', '{**/node_modules/**,**/.osiris/**,**/.venv/**}', 500);
  const name = new RegExp(`^name:\\s*["']?${run.pipeline.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*$`, 'm');
  for (const file of files) {
    const text = Buffer.from(await vscode.workspace.fs.readFile(file)).toString('utf8');
    if (/^oml_version\s*:/m.test(text) && name.test(text)) return file;
  }
  return undefined;
}

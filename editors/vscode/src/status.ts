// The status bar item: server state (starting / ready / error) and the active pipeline's
// problem count. Click: the Osiris output.
import * as vscode from 'vscode';

export type ServerState = 'starting' | 'ready' | 'error' | 'stopped';

const ICONS: Record<ServerState, string> = {
  starting: '$(sync~spin)', ready: '$(check)', error: '$(error)', stopped: '$(circle-slash)',
};

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('osiris.status', vscode.StatusBarAlignment.Left, 10);
  private readonly subscriptions: vscode.Disposable[] = [];
  private state: ServerState = 'starting';
  private detail = '';

  constructor() {
    this.item.name = 'Osiris';
    this.item.command = 'osiris.showOutput';
    this.subscriptions.push(
      vscode.languages.onDidChangeDiagnostics(() => this.render()),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
    );
    this.render();
    this.item.show();
  }

  setState(state: ServerState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  private render(): void {
    const doc = vscode.window.activeTextEditor?.document;
    let counts = '';
    if (doc && doc.languageId === 'oml') {
      const diags = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'osiris' || d.source === 'osiris run');
      const errors = diags.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).length;
      const warnings = diags.filter((d) => d.severity === vscode.DiagnosticSeverity.Warning).length;
      counts = errors + warnings === 0 ? ' no problems' : ` ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    }
    this.item.text = `${ICONS[this.state]} Osiris${this.state === 'ready' ? counts : ` ${this.state}`}`;
    this.item.tooltip = `Osiris language server: ${this.state}${this.detail ? ` — ${this.detail}` : ''}\nClick for the Osiris output.`;
    this.item.backgroundColor = this.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }
}

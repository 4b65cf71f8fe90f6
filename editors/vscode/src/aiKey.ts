// The AI endpoint's API key for Generate: kept in VS Code's SecretStorage (never a setting:
// settings.json is on disk and synced), handed to the language server only as the
// OSIRIS_LLM_API_KEY variable of its process (launch/server.ts restarts it when the key changes).
import * as vscode from 'vscode';

const SECRET = 'osiris.ai.apiKey';
export const API_KEY_ENV = 'OSIRIS_LLM_API_KEY';

export class AiKey implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;

  /** `changed`: the stored key changed (here, or in another window): the server must restart with it. */
  constructor(private readonly secrets: vscode.SecretStorage, changed: () => Promise<void>) {
    this.subscription = secrets.onDidChange((e) => { if (e.key === SECRET) void changed(); });
  }

  /** What the server process gets on top of the editor's environment: the stored key, if any. */
  async serverEnv(): Promise<Record<string, string>> {
    const key = await this.secrets.get(SECRET);
    return key ? { [API_KEY_ENV]: key } : {};
  }

  /** Osiris: Set AI API key. True when a key was stored. */
  async set(): Promise<boolean> {
    const key = await vscode.window.showInputBox({
      title: 'Osiris: Set AI API key', password: true, ignoreFocusOut: true,
      prompt: 'The API key of the OpenAI-compatible endpoint Generate uses (osiris.ai.baseUrl). Stored in VS Code\'s secret storage.',
      validateInput: (value) => (value.trim() ? undefined : 'enter the key, or press Escape'),
    });
    if (!key?.trim()) return false;
    await this.secrets.store(SECRET, key.trim());
    void vscode.window.showInformationMessage('Osiris: AI API key stored; the language server restarts with it.');
    return true;
  }

  /** Osiris: Clear AI API key. */
  async clear(): Promise<void> {
    await this.secrets.delete(SECRET);
    void vscode.window.showInformationMessage('Osiris: AI API key removed from the secret storage.');
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

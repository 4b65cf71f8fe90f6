// Drives VS Code (code-server in headless Debian chromium, through playwright-core) the way a
// person would, through every state of tests/editors/test_vscode.py; writes result.json and a
// screenshot per state into OUT_DIR.
// Inputs (environment): PLAYWRIGHT_CORE (module path), CHROMIUM, VSCODE_URL, SETTINGS_FILE (the
// user settings.json), GOOD_PYTHON (typed into osiris.pythonPath), OUT_DIR, GENERATE_REQUEST
// (typed into Generate's input box), GENERATED_NAME (the file the first Generate writes),
// AI_API_KEY (typed into Osiris: Set AI API key when Generate says the key is missing).
const path = require('path');
const fs = require('fs');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const outDir = process.env.OUT_DIR;
const result = { steps: [] };
const t0 = Date.now();
const step = (s) => { result.steps.push(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`); };
const text = (s) => (s || '').replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim();
let page;
const shot = (name) => page.screenshot({ path: path.join(outDir, `${name}.png`) });

const rows = (selector) => page.$$eval(selector, (rs) => rs.map((r) => (r.getAttribute('aria-label') || r.innerText).replace(/\s+/g, ' ').trim()));
const problemsText = () => page.$$eval('.markers-panel .monaco-list-row', (rs) => rs.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));
const statusText = () => page.$eval('.statusbar-item[id$="osiris.status"]', (e) => e.innerText.replace(/\s+/g, ' ').trim()).catch(() => '');
const language = () => page.$eval('.statusbar-item[id$="status.editor.mode"]', (e) => e.innerText.trim()).catch(() => null);

async function waitStatus(predicate, what, timeout = 60000) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = await statusText();
    if (predicate(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`status bar never showed ${what} (last: ${last})`);
}

async function toast(textPart, timeout = 60000) {
  const t = await page.waitForSelector(`.notification-toast:has-text(${JSON.stringify(textPart)})`, { timeout });
  const message = text(await t.$eval('.notification-list-item-message', (e) => e.innerText).catch(() => t.innerText()));
  const actions = await t.$$eval('.notification-list-item-buttons-container .monaco-button', (bs) => bs.map((b) => b.innerText.trim()));
  return { handle: t, message, actions };
}

async function clearNotifications() {
  for (const button of await page.$$('.notification-toast .codicon-notifications-clear')) await button.click().catch(() => undefined);
  await page.waitForTimeout(300);
}

async function command(name) {
  // On a loaded machine a key press can land while focus is moving (e.g. out of the settings
  // editor) and be lost: the palette never opens, or opens and misses part of the typed name so
  // that no row matches. Either way, close it and do the whole thing again.
  const row = `.quick-input-list .monaco-list-row[aria-label*=${JSON.stringify(name.split(': ').pop())}]`;
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+P');
    try {
      const input = await page.waitForSelector('.quick-input-box input', { state: 'visible', timeout: 10000 });
      await input.fill(`>${name}`);  // the palette's own prefix, then the name, as one edit
      await page.waitForSelector(row, { timeout: 15000 });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

async function openWithQuickOpen(name) {
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-box input', { state: 'visible', timeout: 30000 });
    await page.keyboard.type(name);
    await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 30000 });
    await page.waitForTimeout(400);
    await page.keyboard.press('Enter');
    try {
      await page.waitForSelector(`.tabs-container .tab.active[aria-label*="${name}"]`, { timeout: 10000 });
      await page.waitForSelector('.editor-group-container.active .monaco-editor .view-lines', { timeout: 10000 });
      return Date.now();
    } catch (err) {
      if (attempt >= 3) throw err;
      await page.keyboard.press('Escape');
    }
  }
}

const editorSel = '.editor-group-container.active .monaco-editor';

async function cursorTo(line, column) {
  await page.click(`${editorSel} .view-lines`);
  await page.keyboard.press('Control+Home');
  for (let i = 0; i < line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home');
  for (let i = 0; i < column; i++) await page.keyboard.press('ArrowRight');
}

async function quickFixes() {
  await page.keyboard.press('Control+.');
  await page.waitForSelector('.action-widget .monaco-list-row.action', { timeout: 30000 });
  return page.$$eval('.action-widget .monaco-list-row.action', (rs) => rs.map((r) => r.getAttribute('aria-label') || r.innerText));
}

async function pickFix(fixes, part) {
  const index = fixes.findIndex((label) => label.includes(part));
  if (index < 0) throw new Error(`no quick fix with ${part}: ${JSON.stringify(fixes)}`);
  for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
}

async function showProblems() {
  await command('View: Focus Problems');
  await page.waitForTimeout(800);
}

// Osiris: Generate pipeline from a description, the request typed into its input box.
async function generate(request) {
  await command('Osiris: Generate pipeline from a description');
  await page.waitForSelector('.quick-input-widget .quick-input-title:has-text("Osiris: Generate pipeline")', { state: 'visible', timeout: 30000 });
  await page.keyboard.type(request);
  await page.keyboard.press('Enter');
}

async function clickCodeLens(title) {
  const lens = await page.waitForSelector(`${editorSel} .codelens-decoration a:has-text(${JSON.stringify(title)})`, { timeout: 30000 });
  await lens.click();
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(process.env.VSCODE_URL);
    await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
    step('workbench loaded');

    // 1. osiris.pythonPath has no Osiris: one notification, status error; activation done.
    const missing = await toast('Osiris is not installed', 60000);
    result.missing_notification = missing.message;
    result.missing_actions = missing.actions;
    result.status_missing = await waitStatus((s) => s.includes('error'), 'error');
    await page.waitForTimeout(1500);
    result.missing_notifications_count = (await page.$$('.notification-toast:has-text("Osiris is not installed")')).length;
    await shot('01-missing-osiris');
    step('missing-Osiris notification shown');
    // as a user would: "Open settings" from the notification, then fix osiris.pythonPath there
    await (await missing.handle.$('.monaco-button:has-text("Open settings")')).click();
    // code-server is a remote window: the machine-overridable paths are on the "Remote" tab
    await (await page.waitForSelector('.settings-tabs-widget .action-label:has-text("Remote")', { timeout: 30000 })).click();
    const field = await page.waitForSelector('.settings-editor .setting-item-contents:has-text("Python Path") input', { timeout: 30000 });
    await field.fill(process.env.GOOD_PYTHON);
    await page.keyboard.press('Tab');
    result.status_ready = await waitStatus((s) => !s.includes('error') && !s.includes('starting') && s.includes('Osiris'), 'ready', 90000);
    await shot('02-server-ready');
    await clearNotifications();
    await command('View: Close All Editors');
    step('server ready after fixing osiris.pythonPath');

    // 2. content detection on the quickstart's plain pipeline.yaml
    await openWithQuickOpen('pipeline.yaml');
    await page.waitForTimeout(1500);
    result.quickstart_language = await language();
    await shot('03-quickstart-language');
    step('quickstart language checked');

    // 3. the broken pipeline: time to first diagnostics, status count, completion, problems, hover
    const opened = await openWithQuickOpen('broken.oml.yaml');
    await page.waitForSelector(`${editorSel} .squiggly-error`, { timeout: 60000 });
    result.first_diagnostics_ms = Date.now() - opened;
    result.status_broken = await waitStatus((s) => /\d+ error/.test(s), 'a problem count');
    step(`first diagnostics after ${result.first_diagnostics_ms} ms`);
    await page.click(`${editorSel} .view-lines`);
    await page.keyboard.press('Control+End');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('End');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.suggest-widget .monaco-list-row', { timeout: 30000 });
    await page.waitForTimeout(500);
    result.completion = await rows('.suggest-widget .monaco-list-row');
    await shot('04-completion');
    await page.keyboard.press('Escape');
    await showProblems();
    result.problems = await problemsText();
    await shot('05-problems');
    await cursorTo(4, '    component: mysql.ext'.length);
    result.quick_fixes = await quickFixes();
    await shot('07-quick-fix');
    await pickFix(result.quick_fixes, 'mysql.extractor');
    await page.waitForFunction(() => ![...document.querySelectorAll('.markers-panel .monaco-list-row')]
      .some((r) => r.innerText.includes('oml.unknown-component')), null, { timeout: 30000 });
    result.problems_after_fix = await problemsText();
    result.status_after_fix = await waitStatus((s) => s !== result.status_broken, 'a changed count', 20000).catch(() => statusText());
    step('quick fix applied');
    // hover on the now valid component: its documentation
    await cursorTo(4, '    component: mysql.ext'.length);
    await command('Show or Focus Hover');
    const hover = await page.waitForSelector('.monaco-hover:not(.hidden) .hover-contents', { timeout: 20000 }).catch(() => null);
    result.hover = hover ? text(await hover.innerText()) : '';
    await shot('06-hover');
    await page.keyboard.press('Escape');

    // 4. config-key completion in a mysql.writer step: required fields first, connection first
    await openWithQuickOpen('writer.oml.yaml');
    await cursorTo(8, 6);
    await page.keyboard.press('End');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.suggest-widget .monaco-list-row', { timeout: 30000 });
    await page.waitForTimeout(800);
    result.config_completion = await rows('.suggest-widget .monaco-list-row');
    await shot('08-config-completion');
    await page.keyboard.press('Escape');
    step('config completion read');

    // 5. the upsert quick fix leaves no error
    await openWithQuickOpen('upsert.oml.yaml');
    await page.waitForSelector(`${editorSel} .squiggly-error`, { timeout: 30000 });
    await cursorTo(15, 8);
    result.upsert_fixes = await quickFixes();
    await pickFix(result.upsert_fixes, 'primary_key');
    await page.waitForFunction(() => ![...document.querySelectorAll('.markers-panel .monaco-list-row')]
      .some((r) => r.innerText.includes('config.constraint')), null, { timeout: 30000 });
    result.upsert_problems_after_fix = await problemsText();
    await shot('09-upsert-fixed');
    step('upsert fixed');

    // 6. Compile from the code lens: the manifest opens beside, a toast says where
    await openWithQuickOpen('good.oml.yaml');
    await clickCodeLens('Compile');
    const compiled = await toast('Osiris: compiled', 60000);
    result.compile_message = compiled.message;
    result.manifest_tab_open = Boolean(await page.waitForSelector('.tabs-container .tab[aria-label*="manifest.yaml"]', { timeout: 20000 }).catch(() => null));
    await shot('10-compile');
    await clearNotifications();
    step('compiled');

    // 7. Run the quickstart from the code lens: progress, then rows per step
    await openWithQuickOpen('pipeline.yaml');
    await clickCodeLens('Run');
    const ran = await toast('Osiris: run ok', 90000);
    result.run_message = ran.message;
    result.run_actions = ran.actions;
    await shot('11-run-summary');
    await clearNotifications();
    step('quickstart ran');

    // 8. a failing run: the error in the toast, a diagnostic on the step
    await openWithQuickOpen('failing.oml.yaml');
    await command('Osiris: Run pipeline');
    const failed = await toast('Osiris: run failed', 90000);
    result.failed_message = failed.message;
    await page.waitForSelector(`${editorSel} .squiggly-error`, { timeout: 20000 });
    await showProblems();
    await page.keyboard.press('Control+F');  // the Problems filter
    await page.keyboard.type('run failed');
    await page.waitForTimeout(800);
    result.failed_problems = await problemsText();
    await shot('12-run-failed');
    await clearNotifications();
    step('failing run reported');

    // 9. the Runs view
    await command('Osiris Runs: Focus on Osiris Runs View');
    await page.waitForSelector('.pane:has(.pane-header[aria-label*="Osiris Runs"]) .monaco-list-row', { timeout: 30000 });
    await page.waitForTimeout(800);
    const first = await page.$('.pane:has(.pane-header[aria-label*="Osiris Runs"]) .monaco-list-row');
    await first.click();
    await page.keyboard.press('ArrowRight');  // expand the newest run: its steps
    await page.waitForTimeout(800);
    result.runs_view = await rows('.pane:has(.pane-header[aria-label*="Osiris Runs"]) .monaco-list-row');
    await shot('13-runs-view');
    step('runs view read');

    // 10. rename a step id across needs and SQL
    await openWithQuickOpen('sql.oml.yaml');
    await cursorTo(3, '  - id: raw'.length);
    await page.keyboard.press('F2');
    await page.waitForSelector('.rename-box', { state: 'visible', timeout: 20000 });
    await page.waitForTimeout(300);
    await page.keyboard.type('orders-raw');  // the box opens with the old id selected
    await page.keyboard.press('Enter');
    await page.waitForFunction((sel) => document.querySelector(sel)?.innerText.includes('orders-raw"'), `${editorSel} .view-lines`, { timeout: 20000 });
    result.renamed_text = (await page.$eval(`${editorSel} .view-lines`, (e) => e.innerText)).replace(/\u00a0/g, ' ');
    await shot('14-rename');
    step('renamed');

    // 11. component documentation of the step under the cursor
    await cursorTo(5, 10);
    await command('Osiris: Show component documentation');
    const tab = await page.waitForSelector('.tabs-container .tab[aria-label*="Preview"]', { timeout: 30000 }).catch(() => null);
    result.doc_tab = tab ? await tab.getAttribute('aria-label') : null;
    await page.waitForTimeout(1500);
    await shot('15-component-doc');
    step('component documentation shown');

    // 12. Generate without an API key: an error with a button that runs Osiris: Set AI API key; the
    // key typed there (a password box), the server restarts with it and the request is asked again.
    // The first answer is invalid and retried with its problems, the second is written and opens,
    // without problems
    await command('View: Close All Editors');
    await generate(process.env.GENERATE_REQUEST);
    const keyless = await toast('Osiris: the AI endpoint is not configured', 60000);
    result.keyless_message = keyless.message;
    result.keyless_actions = keyless.actions;
    result.keyless_is_error = Boolean(await keyless.handle.$('.codicon-error'));
    await shot('17a-generate-no-key');
    await (await keyless.handle.$('.monaco-button:has-text("Set AI API key")')).click();
    await page.waitForSelector('.quick-input-widget .quick-input-title:has-text("Osiris: Set AI API key")', { state: 'visible', timeout: 30000 });
    result.key_box_is_password = await page.$eval('.quick-input-box input', (e) => e.type === 'password');
    await page.keyboard.type(process.env.AI_API_KEY);
    await page.keyboard.press('Enter');
    step('API key set through Osiris: Set AI API key');
    const generated = await toast('Osiris: wrote', 120000);
    result.generate_message = generated.message;
    const generatedTab = `.tabs-container .tab.active[aria-label*=${JSON.stringify(process.env.GENERATED_NAME)}]`;
    result.generate_tab = await (await page.waitForSelector(generatedTab, { timeout: 20000 })).getAttribute('aria-label');
    await page.waitForSelector(`${editorSel} .view-lines`, { timeout: 20000 });
    result.generate_language = await language();
    step('generated file open');
    // the server has the document once its code lens shows; its diagnostics follow within ms
    await page.waitForSelector(`${editorSel} .codelens-decoration a:has-text("Compile")`, { timeout: 30000 });
    await page.waitForTimeout(500);
    result.generate_status = await statusText();
    result.generate_squiggles = (await page.$$(`${editorSel} .squiggly-error, ${editorSel} .squiggly-warning`)).length;
    await showProblems();
    await page.keyboard.press('Control+F');  // the Problems filter, set to the new file
    await page.keyboard.press('Control+A');
    await page.keyboard.type(process.env.GENERATED_NAME);
    await page.waitForTimeout(800);
    result.generate_problems = await problemsText();
    await shot('17-generate');
    await clearNotifications();
    step('generated a pipeline');

    // 13. Generate when every answer is invalid: an error toast, nothing written
    await generate(process.env.GENERATE_REQUEST);
    const refused = await toast('Osiris: no valid pipeline', 60000);
    result.generate_progress_ended = await page.waitForSelector('.notification-toast:has-text("generating a pipeline")',
      { state: 'detached', timeout: 10000 }).then(() => true, () => false);
    result.generate_failed_message = refused.message;
    result.generate_failed_actions = refused.actions;
    result.generate_failed_is_error = Boolean(await refused.handle.$('.codicon-error'));
    await shot('18-generate-failed');
    await clearNotifications();
    step('generate without a valid answer reported');

    // 14. a Generate whose model does not answer: the notification says which attempt waits on
    // which model; Cancel ends it at once with a quiet message, nothing written
    await generate(process.env.GENERATE_REQUEST);
    const waiting = await page.waitForSelector('.notification-toast:has-text("generating a pipeline"):has-text("attempt 1 of 3")', { timeout: 60000 });
    result.cancel_progress = text(await waiting.innerText());
    await shot('19-generate-waiting');
    await (await waiting.waitForSelector('.monaco-button:has-text("Cancel")', { timeout: 10000 })).click();
    const cancelled = await toast('Osiris: generation cancelled', 20000);
    result.cancel_message = cancelled.message;
    result.cancel_actions = cancelled.actions;
    result.cancel_is_info = Boolean(await cancelled.handle.$('.codicon-info'));
    result.cancel_progress_ended = await page.waitForSelector('.notification-toast:has-text("generating a pipeline")',
      { state: 'detached', timeout: 10000 }).then(() => true, () => false);
    await shot('20-generate-cancelled');
    await clearNotifications();
    step('generate cancelled');

    await command('Osiris: Show output');
    await page.waitForTimeout(1000);
    result.output_channel = await page.$eval('.panel .monaco-editor .view-lines', (e) => e.innerText).catch(() => '');
    await shot('16-output');
    result.ok = true;
  } catch (err) {
    result.ok = false;
    result.error = String(err && err.stack || err);
    await page.screenshot({ path: path.join(outDir, 'failure.png') }).catch(() => undefined);
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(result, null, 1));
  process.exit(result.ok ? 0 : 1);
})();

// Drives VS Code (code-server in headless Debian chromium, through playwright-core) the way a
// person would: open the broken pipeline, wait for the error squiggle, ask for completion after
// `component: `, read the Problems panel. Prints one JSON object; screenshots on the way.
// Then it applies the quick fix for the misspelt component and runs "Osiris: Compile pipeline"
// on a valid pipeline from the command palette.
// Inputs (environment): PLAYWRIGHT_CORE (module path), CHROMIUM, VSCODE_URL, OML_FILE (the broken
// file, opened with Quick Open), GOOD_FILE (a valid one), OUT_DIR (screenshots + result.json).
const path = require('path');
const fs = require('fs');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const outDir = process.env.OUT_DIR;
const result = { steps: [] };
const t0 = Date.now();
const step = (s) => { result.steps.push(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`); };
const rowsOf = (page, selector) => page.$$eval(selector, (rs) => rs.map((r) => r.getAttribute('aria-label') || r.innerText.replace(/\s+/g, ' ')));

// Put the cursor on a 0-based line and column of the open editor.
async function cursorTo(page, line, column) {
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+Home');
  for (let i = 0; i < line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home');   // the second Home goes to column 0 past the indentation
  for (let i = 0; i < column; i++) await page.keyboard.press('ArrowRight');
}

const problemsText = (page) => page.$$eval('.markers-panel .monaco-list-row', (rs) => rs.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));

async function completionAtEndOfLine(page, lineFromEnd) {
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  for (let i = 0; i < lineFromEnd; i++) await page.keyboard.press('ArrowUp');
  await page.keyboard.press('End');
  await page.keyboard.press('Control+Space');
  await page.waitForSelector('.suggest-widget .monaco-list-row', { timeout: 30000 });
  await page.waitForTimeout(500);   // let the list settle (items can arrive in two batches)
  return rowsOf(page, '.suggest-widget .monaco-list-row');
}

// Quick Open (Ctrl+P), pick the file; retried because an Enter pressed while the result list is
// still refreshing is lost.
async function openWithQuickOpen(page, name) {
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+P');
    // '.quick-input-widget input' also matches a hidden checkbox; the text box is this one.
    await page.waitForSelector('.quick-input-box input', { state: 'visible', timeout: 30000 });
    await page.keyboard.type(name);
    await page.waitForSelector(`.quick-input-list .monaco-list-row[aria-label*="${name}"]`, { timeout: 30000 });
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    try {
      await page.waitForSelector(`.tabs-container .tab[aria-label*="${name}"]`, { timeout: 10000 });
      await page.waitForSelector('.monaco-editor .view-lines', { timeout: 10000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      await page.keyboard.press('Escape');
    }
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await page.goto(process.env.VSCODE_URL);
    await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
    step('workbench loaded');
    await page.waitForTimeout(2000);
    await openWithQuickOpen(page, process.env.OML_FILE);
    step('editor open');
    result.language = await page.$eval('.statusbar-item[id$="status.editor.mode"]', (e) => e.innerText.trim()).catch(() => null);
    await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 60000 });
    step('error squiggle shown');
    result.completion = await completionAtEndOfLine(page, 1);
    step('completion shown');
    await page.screenshot({ path: path.join(outDir, 'completion.png') });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+M');
    await page.waitForSelector('.markers-panel .monaco-list-row', { timeout: 30000 });
    await page.waitForTimeout(1000);
    result.problems = await problemsText(page);
    step('problems panel read');
    await page.screenshot({ path: path.join(outDir, 'problems.png') });

    // Quick fix (Ctrl+.) on the misspelt component, then its problem must go away.
    await cursorTo(page, 4, '    component: mysql.ext'.length);
    await page.keyboard.press('Control+.');
    await page.waitForSelector('.action-widget .monaco-list-row.action', { timeout: 30000 });
    result.quick_fixes = await page.$$eval('.action-widget .monaco-list-row.action', (rs) => rs.map((r) => r.getAttribute('aria-label') || r.innerText));
    step('quick fixes listed');
    // Pick it with the keyboard: a pointer-blocking overlay covers the widget for the mouse.
    const index = result.quick_fixes.findIndex((label) => label.includes('mysql.extractor'));
    if (index < 0) throw new Error(`no quick fix offering mysql.extractor: ${JSON.stringify(result.quick_fixes)}`);
    for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => ![...document.querySelectorAll('.markers-panel .monaco-list-row')]
      .some((r) => r.innerText.includes('oml.unknown-component')), null, { timeout: 30000 });
    result.problems_after_fix = await problemsText(page);
    step('quick fix applied');

    // Osiris: Compile pipeline, from the command palette, on a valid pipeline.
    await openWithQuickOpen(page, process.env.GOOD_FILE);
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-box input', { state: 'visible', timeout: 30000 });
    await page.keyboard.type('Osiris: Compile pipeline');
    await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="Compile pipeline"]', { timeout: 30000 });
    await page.waitForTimeout(300);
    await page.keyboard.press('Enter');
    const toast = await page.waitForSelector('.notification-toast:has-text("Osiris: compile:")', { timeout: 60000 });
    result.compile_message = (await toast.innerText()).replace(/\s+/g, ' ').trim();
    step('compile finished');
    await page.screenshot({ path: path.join(outDir, 'compile.png') });
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

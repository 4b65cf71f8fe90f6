// Drives VS Code (code-server in headless Debian chromium, through playwright-core) the way a
// person would: open the broken pipeline, wait for the error squiggle, ask for completion after
// `component: `, read the Problems panel. Prints one JSON object; screenshots on the way.
// Inputs (environment): PLAYWRIGHT_CORE (module path), CHROMIUM, VSCODE_URL, OML_FILE (name to
// open with Quick Open), OUT_DIR (screenshots + result.json).
const path = require('path');
const fs = require('fs');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const outDir = process.env.OUT_DIR;
const result = { steps: [] };
const t0 = Date.now();
const step = (s) => { result.steps.push(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`); };
const rowsOf = (page, selector) => page.$$eval(selector, (rs) => rs.map((r) => r.getAttribute('aria-label') || r.innerText.replace(/\s+/g, ' ')));

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
    result.problems = await page.$$eval('.markers-panel .monaco-list-row', (rs) => rs.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));
    step('problems panel read');
    await page.screenshot({ path: path.join(outDir, 'problems.png') });
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

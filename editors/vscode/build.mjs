// Bundles the extension into dist/extension.js (one file, `vscode` left external), or with
// --tests the unit tests into out/test/*.test.js for `node --test`. Type checking is `tsc --noEmit`.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node18', logLevel: 'warning' };

if (process.argv.includes('--tests')) {
  const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
  await build({ ...common, entryPoints: tests, outdir: 'out/test', sourcemap: 'inline' });
} else {
  await build({
    ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'],
    minify: production, sourcemap: !production,
  });
}

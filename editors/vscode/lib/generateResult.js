'use strict';
// Turns the result of the server's osiris.generate into a headline and output lines.
// Result shape (osiris_lsp/features/generate.py): {ok, command: 'generate', file?, uri?,
// attempts?: [{number, ok, errors, ...}], problems?: [{code, line, column, message, fix}], error?: {code, message, fix}}.

/** {headline, lines, uri}: what to tell the user, and the new file to open (only when ok). */
function describeGenerateResult(result) {
  if (result === null || typeof result !== 'object') {
    return { headline: `unexpected result: ${JSON.stringify(result)}`, lines: [], uri: undefined };
  }
  if (result.error) {
    const lines = [`${result.error.code}: ${result.error.message}`];
    if (result.error.fix) lines.push(`fix: ${result.error.fix}`);
    return { headline: result.error.message, lines, uri: undefined };
  }
  const tries = (result.attempts || []).length;
  if (result.ok && result.uri) {
    return { headline: `wrote ${result.file} (${tries} attempt(s))`, lines: [`file: ${result.file}`], uri: result.uri };
  }
  const lines = (result.problems || []).map((p) => `${p.line}:${p.column} ${p.code}: ${p.message}${p.fix ? ` (fix: ${p.fix})` : ''}`);
  return { headline: `no valid pipeline after ${tries} attempt(s); nothing was written`, lines, uri: undefined };
}

module.exports = { describeGenerateResult };

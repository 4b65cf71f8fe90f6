'use strict';
// Turns the result of the server's osiris.compile / osiris.run into lines for the Osiris output.
// Result shape (osiris_lsp/features/commands.py): {ok, command, cancelled?, exit_code?, out_dir?,
// manifest?, run_dir?, rows?: {step: n}, outputs?: [path], diagnostics?: [...]}.

/** Lines describing a compile/run result; the first one is the headline. */
function describeResult(result) {
  if (result === null || typeof result !== 'object') return [`unexpected result: ${JSON.stringify(result)}`];
  const lines = [result.cancelled ? 'cancelled' : result.ok ? 'finished' : 'failed'];
  if (typeof result.exit_code === 'number' && result.exit_code !== 0) lines.push(`exit code: ${result.exit_code}`);
  for (const key of ['out_dir', 'manifest', 'run_dir']) {
    if (result[key]) lines.push(`${key}: ${result[key]}`);
  }
  for (const [step, n] of Object.entries(result.rows || {})) lines.push(`rows ${step}: ${n}`);
  for (const p of result.outputs || []) lines.push(`output: ${p}`);
  const problems = (result.diagnostics || []).length;
  if (problems) lines.push(`${problems} diagnostic(s), see the Problems panel`);
  return lines;
}

module.exports = { describeResult };

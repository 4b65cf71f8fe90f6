// Content detection: a YAML file is an OML pipeline when one of its first lines is a top-level
// `oml_version:` (the README's pipelines are plain `pipeline.yaml`). Pure.

const HEAD_LINES = 30;
const OML_VERSION = /^oml_version\s*:/;

export function looksLikeOml(text: string): boolean {
  const head = text.split('\n', HEAD_LINES);
  return head.some((line) => OML_VERSION.test(line));
}

/** Compiled output (a manifest under `.osiris/compiled/` also holds `oml_version`) is not a pipeline. */
export function isOsirisOutput(fsPath: string): boolean {
  return /(^|[\\/])\.osiris[\\/]/.test(fsPath);
}

/** The connections file is plain YAML the server also checks. */
export function isConnectionsFile(fsPath: string): boolean {
  return /(^|[\\/])osiris_connections\.ya?ml$/.test(fsPath);
}

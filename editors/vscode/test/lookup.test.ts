// Interpreter lookup and version probe (node --test; no VS Code needed).
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  chooseCandidate, compareVersions, installCommand, interpretProbe, probeCommand, serverCandidates, serverCommand,
  type Candidate, type LookupInputs, type ProbeResult,
} from '../src/launch/lookup';

const inputs = (over: Partial<LookupInputs> & { files?: string[] }): LookupInputs => ({
  settings: { serverPath: '', pythonPath: '' }, workspaceFolders: ['/ws'], pathDirs: ['/usr/bin'],
  isFile: (p) => (over.files ?? []).includes(p), ...over,
});
const commands = (cs: Candidate[]) => cs.map((c) => `${c.kind}:${c.command}:${c.source}`);

test('osiris.serverPath comes alone, before everything', () => {
  const got = serverCandidates(inputs({ settings: { serverPath: '/opt/osiris-lsp', pythonPath: '/py' }, files: ['/ws/.venv/bin/python'] }));
  assert.deepEqual(commands(got), ['server:/opt/osiris-lsp:osiris.serverPath']);
  assert.equal(got[0].explicit, true);
});

test('osiris.pythonPath comes alone and runs the server as a module', () => {
  const got = serverCandidates(inputs({ settings: { serverPath: '', pythonPath: '/py/bin/python' }, pythonExtensionInterpreter: '/ext/python' }));
  assert.deepEqual(commands(got), ['python:/py/bin/python:osiris.pythonPath']);
  assert.deepEqual(serverCommand(got[0], ['-v']), { command: '/py/bin/python', args: ['-m', 'osiris_lsp', '-v'] });
});

test('without settings: Python extension, then the workspace .venv, then PATH', () => {
  const got = serverCandidates(inputs({
    pythonExtensionInterpreter: '/ext/bin/python',
    files: ['/ws/.venv/bin/python', '/usr/bin/osiris-lsp', '/usr/bin/python3'],
  }));
  assert.deepEqual(commands(got), [
    'python:/ext/bin/python:Python extension', 'python:/ws/.venv/bin/python:/ws/.venv',
    'server:/usr/bin/osiris-lsp:PATH', 'python:/usr/bin/python3:PATH']);
  assert.ok(got.every((c) => !c.explicit));
});

test('the same interpreter found twice is tried once', () => {
  const got = serverCandidates(inputs({ pythonExtensionInterpreter: '/ws/.venv/bin/python', files: ['/ws/.venv/bin/python'] }));
  assert.deepEqual(commands(got), ['python:/ws/.venv/bin/python:Python extension']);
});

test('probe commands ask for the version without starting the server', () => {
  assert.deepEqual(probeCommand({ kind: 'server', command: '/x/osiris-lsp', source: 'PATH', explicit: false }).args, ['--version']);
  const python = probeCommand({ kind: 'python', command: '/py', source: 'PATH', explicit: false });
  assert.equal(python.args[0], '-c');
  assert.match(python.args[1], /import sys, osiris_lsp/);
});

test('probe outcomes: ok, missing module, too old, not found, failure', () => {
  assert.deepEqual(interpretProbe({ exitCode: 0, stdout: '0.1.0', stderr: '' }), { kind: 'ok', version: '0.1.0' });
  assert.deepEqual(interpretProbe({ exitCode: 1, stdout: '', stderr: "ModuleNotFoundError: No module named 'osiris_lsp'" }), { kind: 'missing' });
  assert.deepEqual(interpretProbe({ exitCode: 0, stdout: 'unknown', stderr: '' }), { kind: 'too-old', version: 'unknown' });
  assert.deepEqual(interpretProbe({ exitCode: 0, stdout: '0.0.9', stderr: '' }), { kind: 'too-old', version: '0.0.9' });
  assert.deepEqual(interpretProbe({ exitCode: null, stdout: '', stderr: '', errorCode: 'ENOENT' }), { kind: 'not-found' });
  assert.deepEqual(interpretProbe({ exitCode: 2, stdout: '', stderr: 'boom\nSyntaxError: bad' }), { kind: 'failed', detail: 'SyntaxError: bad' });
  assert.deepEqual(interpretProbe({ exitCode: null, stdout: '', stderr: '', errorCode: 'ETIMEDOUT' }), { kind: 'failed', detail: 'ETIMEDOUT' });
});

test('versions compare numerically', () => {
  assert.equal(compareVersions('0.10.0', '0.9.1'), 1);
  assert.equal(compareVersions('0.1.0', '0.1.0'), 0);
  assert.equal(compareVersions('0.1.0rc1', '0.1.0'), 0);
  assert.equal(compareVersions('1.0', '1.0.1'), -1);
});

test('a guess without Osiris gives way to the next one that has it; an explicit setting never does', async () => {
  const results: Record<string, ProbeResult> = { '/a': { kind: 'missing' }, '/b': { kind: 'ok', version: '0.1.0' } };
  const probe = async (c: Candidate) => results[c.command];
  const guess = (command: string): Candidate => ({ kind: 'python', command, source: 'x', explicit: false });
  const chosen = await chooseCandidate([guess('/a'), guess('/b')], probe);
  assert.equal(chosen?.candidate.command, '/b');
  const explicit = await chooseCandidate([{ ...guess('/a'), explicit: true }, guess('/b')], probe);
  assert.deepEqual([explicit?.candidate.command, explicit?.result.kind], ['/a', 'missing']);
  const none = await chooseCandidate([guess('/a')], probe);
  assert.deepEqual([none?.candidate.command, none?.result.kind], ['/a', 'missing']);
  assert.equal(await chooseCandidate([], probe), undefined);
});

test('install runs pip of that interpreter with the configured spec', () => {
  assert.deepEqual(installCommand('/py', 'osiris-oml==0.1.0'), { command: '/py', args: ['-m', 'pip', 'install', '--upgrade', 'osiris-oml==0.1.0'] });
});

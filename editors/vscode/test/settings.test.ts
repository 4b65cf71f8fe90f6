// Typed settings and what the server gets of them.
import assert from 'node:assert/strict';
import test from 'node:test';
import { readSettings, serverInitOptions } from '../src/settings';

const from = (values: Record<string, unknown>) => (key: string) => values[key];

test('defaults when nothing is set or a value has the wrong type', () => {
  const s = readSettings(from({ serverArgs: 'nope', runEngine: 'docker', componentsPath: [3, ''] }));
  assert.deepEqual(s, {
    serverPath: '', pythonPath: '', serverArgs: [], componentsPath: [], connectionsFile: '', runEngine: 'local',
    secretsFile: '', installSpec: 'osiris-oml',
  });
});

test('${workspaceFolder} is expanded in paths', () => {
  const s = readSettings(from({ pythonPath: '${workspaceFolder}/.venv/bin/python', secretsFile: ' ${workspaceFolder}/.env ' }), '/ws');
  assert.equal(s.pythonPath, '/ws/.venv/bin/python');
  assert.equal(s.secretsFile, '/ws/.env');
});

test('initialization options leave out empty values and the editor-only engine choice', () => {
  assert.deepEqual(serverInitOptions(readSettings(from({}))), { runEngine: 'local' });
  assert.deepEqual(serverInitOptions(readSettings(from({ runEngine: 'ask', componentsPath: ['/c'], connectionsFile: '/x.yaml' }))),
    { componentsPath: ['/c'], connectionsFile: '/x.yaml' });
});

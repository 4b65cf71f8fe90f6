-- Osiris OML in Neovim 0.7+: starts osiris-lsp for OML pipelines (*.oml.yaml, *.oml.yml, and
-- YAML files with a top-level `oml_version`), one server per project root.
-- Use: `luafile /path/to/editors/neovim/osiris.lua` from your init.lua (or copy it).
-- Options: vim.g.osiris_lsp_cmd = { '/path/to/osiris-lsp' } (default: <root>/.venv/bin/osiris-lsp,
-- else osiris-lsp on PATH); vim.g.osiris_lsp_settings = { connectionsFile = '...', ... }.
local clients = {}   -- project root -> client id

local function is_oml(buf)
  if vim.api.nvim_buf_get_name(buf):match('%.oml%.ya?ml$') then return true end
  for _, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, 100, false)) do
    if line:match('^oml_version%s*:') then return true end
  end
  return false
end

-- The folder holding osiris_connections.yaml or .git above the file, else the file's folder.
local function project_root(buf)
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ':p:h')
  local found = vim.fn.findfile('osiris_connections.yaml', dir .. ';')
  if found ~= '' then return vim.fn.fnamemodify(found, ':p:h') end
  found = vim.fn.finddir('.git', dir .. ';')
  if found ~= '' then return vim.fn.fnamemodify(found, ':p:h:h') end
  return dir
end

local function server_cmd(root)
  if vim.g.osiris_lsp_cmd then return vim.g.osiris_lsp_cmd end
  local venv = root .. '/.venv/bin/osiris-lsp'
  if vim.fn.executable(venv) == 1 then return { venv } end
  return { 'osiris-lsp' }
end

local function attach(buf)
  if not is_oml(buf) then return end
  local root = project_root(buf)
  local id = clients[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client({
      name = 'osiris', cmd = server_cmd(root), root_dir = root,
      init_options = vim.g.osiris_lsp_settings or vim.empty_dict(),
    })
    clients[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(buf, id)
    vim.bo[buf].omnifunc = 'v:lua.vim.lsp.omnifunc'   -- <C-x><C-o> completion
  end
end

local group = vim.api.nvim_create_augroup('osiris_oml', { clear = true })
vim.api.nvim_create_autocmd('FileType', {
  group = group, pattern = 'yaml', callback = function(ev) attach(ev.buf) end,
})

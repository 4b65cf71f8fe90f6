-- Drives headless Neovim (0.7+ API) against an OML language server, as a person would:
-- open a broken pipeline, wait for its diagnostics, ask for completion, fix the error by editing
-- the buffer and wait for the diagnostic to go away. Everything it sees goes to a JSON file.
-- Inputs (environment): OSIRIS_NVIM_CMD (JSON array), OSIRIS_NVIM_ROOT, OSIRIS_NVIM_FILE,
-- OSIRIS_NVIM_COMPLETE_AT ("line:col", 0-based), OSIRIS_NVIM_FIX ("line:text"),
-- OSIRIS_NVIM_FIXED_CODE (the diagnostic code the fix removes), OSIRIS_NVIM_OUT.
local env = vim.env
local result = { events = {} }
local function event(s) table.insert(result.events, s) end
local function finish(code)
  vim.fn.writefile({ vim.fn.json_encode(result) }, env.OSIRIS_NVIM_OUT)
  vim.cmd((code == 0) and 'qa!' or ('cq! ' .. code))
end

local ok, err = pcall(function()
  result.nvim = vim.version()
  local id = vim.lsp.start_client({
    name = 'osiris', root_dir = env.OSIRIS_NVIM_ROOT, cmd = vim.fn.json_decode(env.OSIRIS_NVIM_CMD),
    on_exit = function(code, signal) event(string.format('server exited code=%s signal=%s', code, signal)) end,
  })
  result.client_id = id
  vim.cmd('edit ' .. vim.fn.fnameescape(env.OSIRIS_NVIM_FILE))
  local buf = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buf].filetype
  vim.lsp.buf_attach_client(buf, id)   -- initialize + didOpen

  local function diagnostics()
    local out = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      local lsp = (d.user_data or {}).lsp or {}
      table.insert(out, { line = d.lnum, col = d.col, severity = d.severity, message = d.message,
                          code = d.code or lsp.code, source = d.source })
    end
    return out
  end

  -- Waits end early when the server process is gone: the test then reports its stderr.
  local function gone()
    local client = vim.lsp.get_client_by_id(id)
    return client == nil or client.is_stopped()
  end
  local t0 = vim.loop.hrtime()
  result.diagnostics_arrived = vim.wait(30000, function() return gone() or #vim.diagnostic.get(buf) > 0 end, 20)
    and not gone()
  result.diagnostics_ms = (vim.loop.hrtime() - t0) / 1e6
  result.diagnostics = diagnostics()

  if gone() then error('the language server exited; see lsp.log') end
  local line, col = env.OSIRIS_NVIM_COMPLETE_AT:match('(%d+):(%d+)')
  local responses = vim.lsp.buf_request_sync(buf, 'textDocument/completion', {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = tonumber(line), character = tonumber(col) },
  }, 15000)
  result.completion = {}
  for _, r in pairs(responses or {}) do
    if r.err then event('completion error: ' .. vim.inspect(r.err)) end
    local items = r.result and (r.result.items or r.result) or {}
    for _, it in ipairs(items) do table.insert(result.completion, it.label) end
  end

  -- Fix the broken line the way a user would (a buffer edit -> didChange) and wait until the
  -- server has re-validated.
  local fix_line, fix_text = env.OSIRIS_NVIM_FIX:match('(%d+):(.*)')
  vim.api.nvim_buf_set_lines(buf, tonumber(fix_line), tonumber(fix_line) + 1, false, { fix_text })
  local function fixed()
    for _, d in ipairs(diagnostics()) do
      if d.code == env.OSIRIS_NVIM_FIXED_CODE then return false end
    end
    return true
  end
  local t1 = vim.loop.hrtime()
  result.fix_cleared = vim.wait(30000, function() return gone() or fixed() end, 20) and not gone()
  result.fix_ms = (vim.loop.hrtime() - t1) / 1e6
  result.diagnostics_after_fix = diagnostics()

  vim.lsp.stop_client(id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(id) == nil end, 20)
end)
if not ok then result.error = tostring(err) end
finish(ok and 0 or 3)

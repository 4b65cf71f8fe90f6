-- Run after Neovim opened a file with editors/neovim/osiris.lua as its init: wait for the
-- server's diagnostics on the current buffer and write what the user would see to a JSON file.
local buf = vim.api.nvim_get_current_buf()
local out = { filetype = vim.bo[buf].filetype, omnifunc = vim.bo[buf].omnifunc }
out.arrived = vim.wait(tonumber(vim.env.OSIRIS_NVIM_WAIT_MS or '30000'), function() return #vim.diagnostic.get(buf) > 0 end, 20)
out.codes = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(out.codes, d.code or (((d.user_data or {}).lsp or {}).code))
end
out.clients = {}
for _, c in pairs(vim.lsp.buf_get_clients(buf)) do table.insert(out.clients, c.name) end
vim.fn.writefile({ vim.fn.json_encode(out) }, vim.env.OSIRIS_NVIM_OUT)
for _, c in pairs(vim.lsp.get_active_clients()) do c.stop() end
vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 20)
vim.cmd('qa!')

"""The OML language server (pygls 2.x) over osiris_runtime."""

# The extension reads this before it starts the server (`python -c "import osiris_lsp; ..."` or
# `osiris-lsp --version`) and again in the initialize handshake (serverInfo.version).
__version__ = "0.1.0"

"""The OML language server (pygls 2.x) over osiris_runtime."""

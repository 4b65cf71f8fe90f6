"""Live schema discovery: what tables and columns a connection has, cached per alias.

`model` holds the catalog (tables, columns, keys) and its canonical JSON; `identity` the
fingerprint that keys a cache to a connection; `cache` reads and writes
`.osiris/discovery/<family>.<alias>.json`; `sources` talks to MySQL, Postgres and PostgREST in a
few bulk queries. Consumers (the CLI, the validator, the language server, the LLM context) read
caches only: nothing here connects unless `sources` is called.
"""

"""AI assistants that write valid OML: the LLM context, the validated generation loop, the MCP server.

Everything here calls the same registry, validator and compiler as the CLI and the language
server; nothing re-implements a rule. The model sits behind a plain function (see `loop.Generator`),
so the loop is tested without a network and any client can drive it.
"""

"""Field names that are secret whatever a spec says (a spec's secret map adds to these).

Its own module so that the validator's secret rules can know them without importing the run-time
secrets machinery (`osiris_runtime.secrets`: sources, resolver, redactor), which a compile never uses.
"""

from __future__ import annotations

FALLBACK_SECRET_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "secret", "token", "key", "api_key", "apikey",
        "access_token", "refresh_token", "auth_token", "bearer_token", "client_secret",
        "secret_key", "service_key", "service_role_key", "anon_key", "private_key",
        "dsn", "connection_string", "pg_dsn", "sql_url", "authorization",
    }
)

"""The model behind the loop: any OpenAI-compatible chat endpoint, through the official `openai` SDK.

Settings come from `OSIRIS_LLM_BASE_URL`, `OSIRIS_LLM_MODEL`, `OSIRIS_LLM_API_KEY` (and
`OSIRIS_LLM_TIMEOUT`, seconds), or as values from a caller that has its own settings (the editor's
`osiris.ai.*`), which win over the variables. Every failure of the endpoint (missing settings,
refused key, timeout, down, unknown model) is a `ConfigError` (exit 5) whose message never holds
the key. A request runs on the SDK's asyncio client so that a cancel flag can close it at once
(a blocking socket read cannot be interrupted from another thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from osiris_runtime.errors import ConfigError
from osiris_runtime.secrets import Redactor

if TYPE_CHECKING:
    from osiris_runtime.ai.loop import Attempt

BASE_URL_ENV = "OSIRIS_LLM_BASE_URL"
MODEL_ENV = "OSIRIS_LLM_MODEL"
API_KEY_ENV = "OSIRIS_LLM_API_KEY"
TIMEOUT_ENV = "OSIRIS_LLM_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
# How often an in-flight request looks at its cancel flag: a cancel closes the request within this.
CANCEL_POLL_S = 0.05

Message = dict[str, str]


@dataclass(frozen=True)
class LlmEndpoint:
    """Endpoint settings a caller has of its own (the editor's `osiris.ai.*`); None: the variable's value.
    Never the API key: that is only ever the variable (a settings file is on disk and synced)."""

    base_url: str | None = None
    model: str | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class LlmSettings:
    base_url: str
    model: str
    api_key: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, base_url: str | None = None, model: str | None = None,
                 timeout_s: float | None = None) -> "LlmSettings":
        """The endpoint settings: the values given, else the variables of `env`; an
        `EndpointNotConfigured` naming every missing one."""
        base_url = (base_url or "").strip() or env.get(BASE_URL_ENV, "").strip()
        model = (model or "").strip() or env.get(MODEL_ENV, "").strip()
        api_key = env.get(API_KEY_ENV, "").strip()
        missing = tuple(name for name, value in ((BASE_URL_ENV, base_url), (MODEL_ENV, model), (API_KEY_ENV, api_key))
                        if not value)
        if missing:
            raise EndpointNotConfigured(
                "the LLM endpoint is not configured: " + ", ".join(missing) + (" is" if len(missing) == 1 else " are") + " not set",
                missing=missing,
                fix=f"export {BASE_URL_ENV}=https://host/v1 {MODEL_ENV}=<model> {API_KEY_ENV}=<key> (any OpenAI-compatible endpoint)",
            )
        if timeout_s is None:
            raw_timeout = env.get(TIMEOUT_ENV, "").strip()
            try:
                timeout_s = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_S
            except ValueError:
                raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds", code="llm.not-configured",
                                  fix=f"e.g. {TIMEOUT_ENV}=60") from None
        if timeout_s <= 0:
            raise ConfigError(f"{TIMEOUT_ENV} must be positive", code="llm.not-configured", fix=f"e.g. {TIMEOUT_ENV}=60")
        return cls(base_url, model, api_key, timeout_s)


class EndpointNotConfigured(ConfigError):
    """`llm.not-configured` with the variables that are missing (`missing`), so that an editor can
    offer the fix for each (its setting, or its command for the key)."""

    def __init__(self, message: str, *, missing: tuple[str, ...], fix: str) -> None:
        super().__init__(message, code="llm.not-configured", fix=fix)
        self.missing = missing


class ChatModel:
    """One endpoint and model; `complete(messages)` returns the answer text, streamed when asked.

    `cancel`: when it is set, the request in flight is closed (within CANCEL_POLL_S) and
    `complete` raises `GenerationCancelled`; nothing keeps waiting for the answer.
    """

    def __init__(self, settings: LlmSettings, *, stream: bool = True,
                 on_delta: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> None:
        self.settings = settings
        self.stream = stream
        self.on_delta = on_delta
        self.cancel = cancel
        self.redactor = Redactor(secret_values=[settings.api_key])
        import httpx2  # the openai SDK's HTTP client

        # Built once (certificates, SSL_CERT_FILE as the SDK's default would): it is most of a
        # client's cost, and the asyncio client itself is made per request.
        self._ssl_context = httpx2.create_ssl_context()

    def complete(self, messages: list[Message]) -> str:
        return asyncio.run(self._complete(messages))

    async def _complete(self, messages: list[Message]) -> str:
        import openai

        # A client per request: an asyncio client belongs to the loop that made it. No SDK retries: a
        # down endpoint should fail in one timeout, and the loop retries on content.
        try:
            async with openai.AsyncOpenAI(base_url=self.settings.base_url, api_key=self.settings.api_key,
                                          timeout=self.settings.timeout_s, max_retries=0,
                                          http_client=openai.DefaultAsyncHttpxClient(verify=self._ssl_context)) as client:
                return await self._unless_cancelled(self._ask(client, messages))
        except openai.APIError as exc:
            raise self._config_error(exc) from None

    async def _ask(self, client: Any, messages: list[Message]) -> str:
        if not self.stream:
            response = await client.chat.completions.create(model=self.settings.model, messages=messages, temperature=0)
            text = (response.choices[0].message.content or "") if response.choices else ""
            if self.on_delta is not None:
                self.on_delta(text)
            return text
        parts: list[str] = []
        chunks = await client.chat.completions.create(model=self.settings.model, messages=messages,
                                                      temperature=0, stream=True)
        async with chunks:
            async for chunk in chunks:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    if self.on_delta is not None:
                        self.on_delta(delta)
        return "".join(parts)

    async def _unless_cancelled(self, work: Awaitable[str]) -> str:
        from osiris_runtime.ai.loop import GenerationCancelled

        request = asyncio.ensure_future(work)
        if self.cancel is None:
            return await request
        while True:
            done, _ = await asyncio.wait({request}, timeout=CANCEL_POLL_S)
            if done:
                return request.result()
            if self.cancel.is_set():
                request.cancel()  # closes the connection: the endpoint sees the request go away
                with contextlib.suppress(asyncio.CancelledError):
                    await request
                raise GenerationCancelled()

    def _config_error(self, exc: Exception) -> ConfigError:
        import openai

        where = self.redactor.redact(self.settings.base_url)
        if isinstance(exc, openai.APITimeoutError):
            return ConfigError(f"the LLM endpoint {where} did not answer within {self.settings.timeout_s:g} s",
                               code="llm.timeout", fix=f"check the endpoint, or raise {TIMEOUT_ENV}")
        if isinstance(exc, openai.APIConnectionError):
            return ConfigError(f"cannot reach the LLM endpoint {where}", code="llm.unreachable",
                               fix=f"check {BASE_URL_ENV} and that the server is up")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return ConfigError(f"the LLM endpoint {where} refused the API key (HTTP {exc.status_code})",
                               code="llm.refused", fix=f"check {API_KEY_ENV}")
        if isinstance(exc, openai.NotFoundError):
            return ConfigError(f"the LLM endpoint {where} does not know model `{self.settings.model}` (HTTP 404)",
                               code="llm.not-found", fix=f"check {MODEL_ENV} and {BASE_URL_ENV} (usually ends in /v1)")
        status = getattr(exc, "status_code", None)
        detail = self.redactor.redact(str(getattr(exc, "message", "") or type(exc).__name__))[:200]
        return ConfigError(f"the LLM endpoint {where} failed" + (f" (HTTP {status})" if status else "") + f": {detail}",
                           code="llm.error", fix="try again later, or check the endpoint's logs")


def fenced(oml: str) -> str:
    return f"```yaml\n{oml.rstrip(chr(10))}\n```"


@dataclass
class Conversation:
    """The messages of one session: the system prompt, then each turn's request and final answer.

    `generator()` is the loop's `Generator` for the next request: its first call sends the history
    plus the request; a retry adds the previous (redacted) answer and the feedback. `remember` keeps
    a finished turn so that the next request ("now add a DuckDB step") builds on it.
    """

    model: Callable[[list[Message]], str]
    system_prompt: str
    history: list[Message] = field(default_factory=list)
    sent: list[list[Message]] = field(default_factory=list)  # what each call sent (for --json and tests)

    def generator(self) -> Callable[[str, "Attempt | None", str | None], str]:
        retries: list[Message] = []

        def generate(request: str, previous: "Attempt | None", feedback: str | None) -> str:
            if previous is not None and feedback is not None:
                answer = fenced(previous.oml) if previous.oml is not None else previous.answer
                retries.extend([{"role": "assistant", "content": answer}, {"role": "user", "content": feedback}])
            messages = [{"role": "system", "content": self.system_prompt}, *self.history,
                        {"role": "user", "content": request}, *retries]
            self.sent.append(messages)
            return self.model(messages)

        return generate

    def remember(self, request: str, oml: str | None) -> None:
        self.history.append({"role": "user", "content": request})
        if oml is not None:
            self.history.append({"role": "assistant", "content": fenced(oml)})

"""The model behind the loop: any OpenAI-compatible chat endpoint, through the official `openai` SDK.

Settings come from `OSIRIS_LLM_BASE_URL`, `OSIRIS_LLM_MODEL`, `OSIRIS_LLM_API_KEY` (and
`OSIRIS_LLM_TIMEOUT`, seconds). Every failure of the endpoint (missing settings, refused key,
timeout, down, unknown model) is a `ConfigError` (exit 5) whose message never holds the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from osiris_runtime.errors import ConfigError
from osiris_runtime.secrets import Redactor

if TYPE_CHECKING:
    from osiris_runtime.ai.loop import Attempt

BASE_URL_ENV = "OSIRIS_LLM_BASE_URL"
MODEL_ENV = "OSIRIS_LLM_MODEL"
API_KEY_ENV = "OSIRIS_LLM_API_KEY"
TIMEOUT_ENV = "OSIRIS_LLM_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0

Message = dict[str, str]


@dataclass(frozen=True)
class LlmSettings:
    base_url: str
    model: str
    api_key: str = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LlmSettings":
        """The endpoint settings, or a ConfigError naming every missing variable."""
        missing = [name for name in (BASE_URL_ENV, MODEL_ENV, API_KEY_ENV) if not env.get(name, "").strip()]
        if missing:
            raise ConfigError(
                "the LLM endpoint is not configured: " + ", ".join(missing) + (" is" if len(missing) == 1 else " are") + " not set",
                code="llm.not-configured",
                fix=f"export {BASE_URL_ENV}=https://host/v1 {MODEL_ENV}=<model> {API_KEY_ENV}=<key> (any OpenAI-compatible endpoint)",
            )
        raw_timeout = env.get(TIMEOUT_ENV, "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds", code="llm.not-configured",
                              fix=f"e.g. {TIMEOUT_ENV}=60") from None
        if timeout <= 0:
            raise ConfigError(f"{TIMEOUT_ENV} must be positive", code="llm.not-configured", fix=f"e.g. {TIMEOUT_ENV}=60")
        return cls(env[BASE_URL_ENV].strip(), env[MODEL_ENV].strip(), env[API_KEY_ENV].strip(), timeout)


class ChatModel:
    """One endpoint and model; `complete(messages)` returns the answer text, streamed when asked."""

    def __init__(self, settings: LlmSettings, *, stream: bool = True,
                 on_delta: Callable[[str], None] | None = None) -> None:
        import openai

        self.settings = settings
        self.stream = stream
        self.on_delta = on_delta
        self.redactor = Redactor(secret_values=[settings.api_key])
        # No SDK retries: a down endpoint should fail in one timeout, and the loop retries on content.
        self._client = openai.OpenAI(base_url=settings.base_url, api_key=settings.api_key,
                                     timeout=settings.timeout_s, max_retries=0)

    def complete(self, messages: list[Message]) -> str:
        import openai

        try:
            if not self.stream:
                response = self._client.chat.completions.create(model=self.settings.model, messages=messages,
                                                                 temperature=0)
                text = (response.choices[0].message.content or "") if response.choices else ""
                if self.on_delta is not None:
                    self.on_delta(text)
                return text
            parts: list[str] = []
            with self._client.chat.completions.create(model=self.settings.model, messages=messages,
                                                      temperature=0, stream=True) as chunks:
                for chunk in chunks:
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta:
                        parts.append(delta)
                        if self.on_delta is not None:
                            self.on_delta(delta)
            return "".join(parts)
        except openai.APIError as exc:
            raise self._config_error(exc) from None

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

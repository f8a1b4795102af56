"""The agent's sections: `agent:` (loop limits, model table overrides), `providers:` and `permissions:`."""

from __future__ import annotations

import fnmatch
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from codemem.config.core import Section
from codemem.errors import ConfigError


class ModelOverride(Section):
    """One entry of `agent.models`; unset fields keep the built-in model table's values."""

    context_window: int | None = Field(default=None, gt=0)
    max_output: int | None = Field(default=None, gt=0)
    input_price: float | None = Field(default=None, ge=0)
    output_price: float | None = Field(default=None, ge=0)
    cache_read_price: float | None = Field(default=None, ge=0)
    cache_write_price: float | None = Field(default=None, ge=0)


class AgentConfig(Section):
    """Limits, context management and tool budgets of the agent loop."""

    models: dict[str, ModelOverride] = Field(default_factory=dict)  # model name -> overrides
    max_steps: int = Field(default=50, ge=1)  # model calls per task (per chat turn)
    max_cost: float | None = Field(default=None, gt=0)  # dollars per task; null: no limit
    max_seconds: float | None = Field(default=1800, gt=0)  # wall time per task; null: none
    max_output_tokens: int | None = Field(default=None, ge=256)  # per answer; null: the model's
    compact_at: float = Field(default=0.9, gt=0, lt=1)  # summarize the oldest messages above
    compact_to: float = Field(default=0.7, gt=0, lt=1)  # ...down to this share of the window
    pressure_at: float = Field(default=0.75, gt=0, lt=1)  # from here, ask the agent to save
    summary_chars: int = Field(default=6000, ge=500)  # longest summary of evicted messages
    # core memory blocks in the context, at most (and at most half the window): the blocks
    # past it are named as left out, never sent whole (20,000 blocks were 5 MB a prompt)
    memory_chars: int = Field(default=64_000, ge=2_000)
    map_tokens: int | None = Field(default=None, ge=0)  # repo map in context; null: map.tokens
    tool_output_chars: int = Field(default=20_000, ge=1000)  # longest tool result
    max_command_timeout: float = Field(default=1800, gt=0)  # the most a call may ask for
    # Variables with secret-looking names (KEY, SECRET, TOKEN...) or values (a key, a URL's
    # password) that run_command passes anyway (globs).
    command_env_keep: list[str] = Field(default_factory=list)
    refresh_index: bool = True  # bring the code index up to date when a session starts
    stream: bool = True  # show answers as they are written

    @model_validator(mode="after")
    def _ordered(self) -> AgentConfig:
        if not self.compact_to < self.compact_at:
            raise ValueError("compact_to must be below compact_at")
        return self


ProviderType = Literal["anthropic", "openai", "openai-compatible"]

# The built-in entries of `providers:`; an entry in config is merged over the one of its name.
BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "anthropic": {"type": "anthropic"},
    "openai": {"type": "openai"},
    "ollama": {"type": "openai-compatible", "base_url": "http://localhost:11434/v1"},
    "openrouter": {
        "type": "openai-compatible",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
    },
    "lmstudio": {"type": "openai-compatible", "base_url": "http://localhost:1234/v1"},
    "vllm": {"type": "openai-compatible", "base_url": "http://localhost:8000/v1"},
    "llamacpp": {"type": "openai-compatible", "base_url": "http://localhost:8080/v1"},
}
DEFAULT_KEY_ENV: dict[str, str | None] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openai-compatible": None,
}


class ProviderConfig(Section):
    """One entry of `providers:`. `type` may be left out for a built-in provider's name."""

    type: ProviderType | None = None
    base_url: str | None = None
    api_key_env: str | None = None  # default: the type's usual variable (ANTHROPIC_API_KEY, ...)
    api_key: str | None = Field(default=None, repr=False)
    model: str | None = None  # used when the model string is just the provider's name
    timeout: float = Field(default=300.0, gt=0)  # seconds one request may wait (see example)
    deadline: float = Field(default=600.0, gt=0)  # seconds one model call may take, all tries
    max_attempts: int = Field(default=5, ge=1, le=20)
    headers: dict[str, str] = Field(default_factory=dict)
    cache: bool = True  # Anthropic prompt caching


def provider_settings(name: str, providers: dict[str, ProviderConfig]) -> ProviderConfig:
    """Provider `name`'s settings: its built-in entry, then what config sets, then type defaults.

    Raises `ConfigError` when neither the built-in table nor config gives it a `type`.
    """
    entry = providers.get(name)
    merged = {
        **BUILTIN_PROVIDERS.get(name, {}),
        **(entry.model_dump(exclude_unset=True) if entry else {}),
    }
    if merged.get("type") is None:
        raise ConfigError(
            f"providers.{name}.type: required (anthropic, openai or openai-compatible)"
        )
    merged.setdefault("api_key_env", DEFAULT_KEY_ENV[merged["type"]])
    return ProviderConfig.model_validate(merged)


# The tools that ask permission; a rule must name at least one of them.
GATED_TOOLS = ("edit_file", "write_file", "run_command")


def parse_rule(text: str) -> tuple[str, str | None]:
    """(tool glob, pattern or None) of a permission rule `TOOL` or `TOOL:PATTERN`.

    Raises `ValueError` for a malformed rule or one that names no gated tool.
    """
    tool, sep, pattern = str(text).partition(":")
    tool = tool.strip()
    if not tool or (sep and not pattern.strip()):
        raise ValueError(
            f"invalid rule {text!r}: write TOOL or TOOL:PATTERN, like run_command:pytest*"
        )
    if not any(fnmatch.fnmatchcase(name, tool) for name in GATED_TOOLS):
        raise ValueError(
            f"rule {text!r} names no tool that asks permission ({', '.join(GATED_TOOLS)})"
        )
    return tool, pattern.strip() if sep else None


PermissionMode = Literal["ask", "allow", "deny"]


class PermissionsConfig(Section):
    """The `permissions:` section (see `codemem/agent/tools/permissions.py` for the rules)."""

    mode: PermissionMode = "ask"  # what happens to a call no rule covers
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)

    @field_validator("allow", "deny")
    @classmethod
    def _rules(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            parse_rule(rule)
        return rules

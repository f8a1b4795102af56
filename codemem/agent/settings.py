"""The `agent:` section of config, validated (the providers read `agent.models` themselves)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codemem.errors import ConfigError


class AgentConfig(BaseModel):
    """Limits, context management and tool budgets of the agent loop."""

    model_config = ConfigDict(extra="forbid")

    models: dict[str, Any] = Field(default_factory=dict)  # per-model overrides (providers)
    max_steps: int = Field(default=50, ge=1)  # model calls per task (per chat turn)
    max_cost: float | None = Field(default=None, gt=0)  # dollars per task; null: no limit
    max_seconds: float | None = Field(default=1800, gt=0)  # wall time per task; null: none
    max_output_tokens: int | None = Field(default=None, ge=256)  # per answer; null: the model's
    compact_at: float = Field(default=0.9, gt=0, lt=1)  # summarize the oldest messages above
    compact_to: float = Field(default=0.7, gt=0, lt=1)  # ...down to this share of the window
    pressure_at: float = Field(default=0.75, gt=0, lt=1)  # from here, ask the agent to save
    summary_chars: int = Field(default=6000, ge=500)  # longest summary of evicted messages
    map_tokens: int | None = Field(default=None, ge=0)  # repo map in context; null: map.tokens
    tool_output_chars: int = Field(default=20_000, ge=1000)  # longest tool result
    max_command_timeout: float = Field(default=1800, gt=0)  # the most a call may ask for
    refresh_index: bool = True  # bring the code index up to date when a session starts
    stream: bool = True  # show answers as they are written

    @model_validator(mode="after")
    def _ordered(self) -> AgentConfig:
        if not self.compact_to < self.compact_at:
            raise ValueError("compact_to must be below compact_at")
        return self

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None) -> AgentConfig:
        """Validate `config.agent`; a bad key or value is a one-line `ConfigError`."""
        try:
            return cls.model_validate(raw or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            where = f"agent.{key}" if key else "agent"
            raise ConfigError(f"{where}: {message.removeprefix('Value error, ')}") from None

"""The model table (context window, output limit, prices) and the per-session cost meter.

Prices are US dollars per million tokens, from the providers' public pricing pages (checked
2026-10; they change, so `agent.models` in config overrides any field of any row).
Anthropic cache writes (5-minute TTL) cost 1.25x input and cache reads 0.1x; OpenAI bills
cached input at a discount and has no write surcharge. An unknown model gets a conservative
32k window and a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from codemem.agent.messages import Usage
from codemem.config import ModelOverride

log = logging.getLogger("codemem")

DEFAULT_CONTEXT_WINDOW = 32_768
DEFAULT_MAX_OUTPUT = 8_192


@dataclass(frozen=True)
class ModelInfo:
    """What codemem knows about one model. Prices are $ per million tokens."""

    name: str
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_output: int = DEFAULT_MAX_OUTPUT
    input_price: float = 0.0
    output_price: float = 0.0
    cache_read_price: float = 0.0
    cache_write_price: float = 0.0
    known: bool = True

    def cost(self, usage: Usage) -> float:
        """Dollars for `usage` at this model's prices."""
        return (
            usage.input_tokens * self.input_price
            + usage.output_tokens * self.output_price
            + usage.cache_read_tokens * self.cache_read_price
            + usage.cache_write_tokens * self.cache_write_price
        ) / 1_000_000


def _claude(name: str, window: int, output: int, price_in: float, price_out: float) -> ModelInfo:
    return ModelInfo(name, window, output, price_in, price_out, price_in * 0.1, price_in * 1.25)


def _gpt(
    name: str, window: int, output: int, price_in: float, price_out: float, cached: float
) -> ModelInfo:
    return ModelInfo(name, window, output, price_in, price_out, cached, 0.0)


_M = 1_000_000
_K = 1_000

MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in [
        _claude("claude-fable-5-1", _M, 128_000, 10, 50),
        _claude("claude-fable-5", _M, 128_000, 10, 50),
        _claude("claude-opus-5-5", _M, 128_000, 4, 20),
        _claude("claude-opus-5", _M, 128_000, 5, 25),
        _claude("claude-sonnet-5-5", _M, 128_000, 2, 10),
        _claude("claude-sonnet-5", _M, 128_000, 2, 10),
        _claude("claude-opus-4-8", _M, 128_000, 5, 25),
        _claude("claude-opus-4-7", _M, 128_000, 5, 25),
        _claude("claude-opus-4-6", _M, 128_000, 5, 25),
        _claude("claude-opus-4-5", 200 * _K, 64_000, 5, 25),
        _claude("claude-opus-4-1", 200 * _K, 32_000, 15, 75),
        _claude("claude-sonnet-4-6", _M, 128_000, 3, 15),
        _claude("claude-sonnet-4-5", 200 * _K, 64_000, 3, 15),
        _claude("claude-haiku-4-5", 200 * _K, 64_000, 1, 5),
        _gpt("gpt-5.4", 1_050_000, 128_000, 2.5, 15, 0.25),
        _gpt("gpt-5.1", 400 * _K, 128_000, 1.25, 10, 0.125),
        _gpt("gpt-5", 400 * _K, 128_000, 1.25, 10, 0.125),
        _gpt("gpt-5-mini", 400 * _K, 128_000, 0.25, 2, 0.025),
        _gpt("gpt-5-nano", 400 * _K, 128_000, 0.05, 0.4, 0.005),
        _gpt("gpt-4.1", 1_047_576, 32_768, 2, 8, 0.5),
        _gpt("gpt-4.1-mini", 1_047_576, 32_768, 0.4, 1.6, 0.1),
        _gpt("gpt-4.1-nano", 1_047_576, 32_768, 0.1, 0.4, 0.025),
        _gpt("gpt-4o", 128 * _K, 16_384, 2.5, 10, 1.25),
        _gpt("gpt-4o-mini", 128 * _K, 16_384, 0.15, 0.6, 0.075),
        _gpt("o4-mini", 200 * _K, 100_000, 1.1, 4.4, 0.275),
        _gpt("o3", 200 * _K, 100_000, 2, 8, 0.5),
        _gpt("o3-mini", 200 * _K, 100_000, 1.1, 4.4, 0.55),
        _gpt("o1", 200 * _K, 100_000, 15, 60, 7.5),
        # Local models codemem suggests (`ollama/qwen2.5-coder`): free, windows as published.
        ModelInfo("qwen2.5-coder", 32_768, 8_192),
    ]
}

_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def _candidates(name: str) -> list[str]:
    """Names to try in the table: as given, without a provider path, date or dots."""
    tail = name.rsplit("/", 1)[-1]
    out = [name, tail, tail.split(":", 1)[0]]  # ollama tags: qwen2.5-coder:7b
    undated = _DATE_SUFFIX.sub("", tail)
    out.append(undated)
    if undated.startswith("claude"):
        out.append(undated.replace(".", "-"))  # OpenRouter spells claude-sonnet-4.5
    return list(dict.fromkeys(out))


_warned: set[str] = set()


def lookup_model(
    name: str,
    overrides: dict[str, ModelOverride] | None = None,
    *,
    full_name: str | None = None,
) -> ModelInfo:
    """The `ModelInfo` for `name`, with config overrides applied.

    `full_name` ("ollama/qwen2.5-coder") is tried before `name`, so an override can target
    one provider's copy of a model.
    """
    overrides = overrides or {}
    keys = ([full_name] if full_name else []) + _candidates(name)
    info = next((MODELS[key] for key in keys if key in MODELS), None)
    override = next((overrides[key] for key in keys if key in overrides), None)
    if info is None:
        info = ModelInfo(name, known=False)
        if override is None or override.context_window is None:
            label = full_name or name
            if label not in _warned:
                _warned.add(label)
                log.warning(
                    "unknown model %s: assuming a %d-token context window and no price; "
                    "set agent.models.%s in config to override",
                    label,
                    DEFAULT_CONTEXT_WINDOW,
                    name,
                )
    else:
        info = replace(info, name=name)
    if override is not None:
        info = replace(info, **override.model_dump(exclude_none=True))
    return info


@dataclass
class CostMeter:
    """Tokens and dollars of one session, summed over every call a provider makes."""

    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    calls: int = 0

    def add(self, usage: Usage, info: ModelInfo) -> None:
        """Count one call."""
        self.usage = self.usage + usage
        self.cost += info.cost(usage)
        self.calls += 1

    def summary(self) -> str:
        """One line for the status bar: tokens in (cached) / out and cost."""
        u = self.usage
        cached = u.cache_read_tokens + u.cache_write_tokens
        cached_text = f" ({cached:,} cached)" if cached else ""
        return (
            f"{u.context_tokens:,} in{cached_text} / {u.output_tokens:,} out"
            f" · ${self.cost:.4f} · {self.calls} call{'s' if self.calls != 1 else ''}"
        )

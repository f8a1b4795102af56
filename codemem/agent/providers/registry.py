"""From a model string to a ready `Provider`.

Model strings are `<provider>/<model>`: `anthropic/claude-opus-4-6`, `openai/gpt-5`,
`ollama/qwen2.5-coder`, `openrouter/anthropic/claude-sonnet-4.5`, or a provider named in
config (`providers: {gpu: {type: openai-compatible, base_url: ...}}` → `gpu/qwen3`). A bare
`claude-…` or `gpt-…`/`o3…` name picks Anthropic or OpenAI; a bare provider name uses that
provider's `model:`. `scripted/<file.yml>` plays a demo script.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from codemem.agent.providers.base import Provider
from codemem.agent.providers.errors import MissingAPIKey
from codemem.agent.providers.models import lookup_model
from codemem.agent.providers.retry import RetryPolicy
from codemem.config import BUILTIN_PROVIDERS, Config, provider_settings
from codemem.errors import UsageError

_OPENAI_NAMES = re.compile(r"^(gpt-|chatgpt-|o\d|codex-)")


SCRIPTED = "scripted"  # demos and tests: works, but is never offered in a message


def provider_names(config: Config) -> list[str]:
    """Built-in provider names, then those defined in config."""
    extra = [name for name in config.providers if name not in BUILTIN_PROVIDERS]
    return [*BUILTIN_PROVIDERS, *sorted(extra)]


def split_model(model_string: str, config: Config) -> tuple[str, str]:
    """(provider name, model name) for a model string; a one-line error if it is unknown."""
    text = model_string.strip()
    names = provider_names(config)
    valid = ", ".join(names)
    if "/" in text:
        prefix, name = text.split("/", 1)
        if prefix in (*names, SCRIPTED) and name:
            return prefix, name
        raise UsageError(
            f"unknown provider {prefix!r} in model {text!r}: use one of {valid} "
            f"(or define providers.{prefix} in config)"
        )
    if text in names:
        default = provider_settings(text, config.providers).model
        if default:
            return text, default
        raise UsageError(f"provider {text!r} has no default model: use {text}/<model>")
    if text.startswith("claude"):
        return "anthropic", text
    if _OPENAI_NAMES.match(text):
        return "openai", text
    raise UsageError(
        f"cannot tell the provider of model {text!r}: write <provider>/<model>, "
        f"with provider one of {valid}"
    )


def resolve_provider(
    model_string: str | None = None,
    config: Config | None = None,
    *,
    retry: RetryPolicy | None = None,
    quiet: bool = False,
) -> Provider:
    """The provider for `model_string` (default: `config.model`), ready to call; `quiet`
    logs its retries at debug level only.

    Raises `UsageError` for an unknown provider or no model at all, `ConfigError` for bad
    settings, and `MissingAPIKey` naming the variable to set.
    """
    config = config or Config()
    model_string = model_string or config.model
    if not model_string:
        raise UsageError(
            "no model configured: pass --model, set CODEMEM_MODEL, or set model: in "
            ".codemem/config.yml (e.g. anthropic/claude-sonnet-4-6 or ollama/qwen2.5-coder)"
        )
    provider_name, name = split_model(model_string, config)
    full_name = f"{provider_name}/{name}"
    if provider_name == SCRIPTED:
        from codemem.agent.providers.scripted import ScriptedProvider

        return ScriptedProvider.from_file(Path(name), model=full_name)

    settings = provider_settings(provider_name, config.providers)
    key_env = settings.api_key_env
    api_key = settings.api_key or (os.environ.get(key_env) if key_env else None)
    auth_token = None
    if settings.type == "anthropic" and not api_key and key_env == "ANTHROPIC_API_KEY":
        auth_token = os.environ.get("ANTHROPIC_AUTH_TOKEN")  # the SDK's other credential
    if key_env and not (api_key or auth_token):
        raise MissingAPIKey(
            f"{key_env} is not set: export it, or choose another model with --model"
        )

    info = lookup_model(name, config.agent.models, full_name=full_name)
    retry = retry or RetryPolicy(max_attempts=settings.max_attempts, quiet=quiet)
    common: dict[str, Any] = {
        "base_url": settings.base_url,
        "key_env": key_env,
        "timeout": settings.timeout,
        "deadline": settings.deadline,
        "headers": settings.headers or None,
        "retry": retry,
    }
    if settings.type == "anthropic":
        from codemem.agent.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            full_name,
            name,
            info,
            api_key=api_key,
            auth_token=auth_token,
            cache=settings.cache,
            **common,
        )
    from codemem.agent.providers.openai import OpenAIProvider

    return OpenAIProvider(
        full_name,
        name,
        info,
        api_key=api_key,
        compatible=settings.type == "openai-compatible",
        **common,
    )

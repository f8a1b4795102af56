"""Model providers behind one small contract (`Provider`).

    provider = resolve_provider("anthropic/claude-sonnet-4-6", config)
    response = provider.complete(system, messages, tools, on_text=print)

The SDK adapters (`anthropic.py`, `openai.py`) are imported only when a provider of that
type is resolved, so importing this package stays cheap.
"""

from codemem.agent.providers.base import Provider
from codemem.agent.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    ContextOverflow,
    MissingAPIKey,
    ModelNotFound,
    ProviderFailure,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamDropped,
)
from codemem.agent.providers.models import CostMeter, ModelInfo, lookup_model
from codemem.agent.providers.registry import resolve_provider
from codemem.agent.providers.retry import RetryPolicy
from codemem.agent.providers.scripted import ScriptedProvider, tool_call, tool_call_response

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "ConnectionFailed",
    "ContextOverflow",
    "CostMeter",
    "MissingAPIKey",
    "ModelInfo",
    "ModelNotFound",
    "Provider",
    "ProviderFailure",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RetryPolicy",
    "ScriptedProvider",
    "StreamDropped",
    "lookup_model",
    "resolve_provider",
    "tool_call",
    "tool_call_response",
]

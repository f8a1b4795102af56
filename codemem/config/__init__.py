"""Configuration: defaults < user config < project config < environment < CLI flags.

Every section is a typed model (`config.sleep.idle_minutes`, `config.agent.max_steps`), and
every key is documented in `codemem/data/example.yml` (`codemem config example`). Each file is validated when it is read: a
broken one is reported in one line that names the file, the key and what is wrong.
"""

import importlib
from typing import TYPE_CHECKING, Any

from codemem.config.home import make_user_dir
from codemem.config.layers import (
    ENV_PREFIX,
    LAYERS,
    environment_overrides,
    layers_key,
    merge,
    read_layers,
    read_project_file,
    read_yaml_file,
    settings_from_text,
    user_config_dir,
)

if TYPE_CHECKING:
    from codemem.config.agent import (
        BUILTIN_PROVIDERS,
        GATED_TOOLS,
        AgentConfig,
        ModelOverride,
        PermissionMode,
        PermissionsConfig,
        ProviderConfig,
        ProviderType,
        parse_rule,
        provider_settings,
    )
    from codemem.config.core import IndexConfig, MapConfig, SearchConfig, Section
    from codemem.config.loading import load_config, validate_layer, validate_layers
    from codemem.config.review import ReviewConfig, Severity
    from codemem.config.schema import Config
    from codemem.config.sleep import SleepConfig

# The typed sections load pydantic (a third of a short command's start-up): imported on first
# use, so that reading the layers alone (`layers_key`) stays cheap.
_LAZY = {
    **dict.fromkeys(
        [
            "BUILTIN_PROVIDERS",
            "GATED_TOOLS",
            "AgentConfig",
            "ModelOverride",
            "PermissionMode",
            "PermissionsConfig",
            "ProviderConfig",
            "ProviderType",
            "parse_rule",
            "provider_settings",
        ],
        "codemem.config.agent",
    ),
    **dict.fromkeys(["IndexConfig", "MapConfig", "SearchConfig", "Section"], "codemem.config.core"),
    **dict.fromkeys(["load_config", "validate_layer", "validate_layers"], "codemem.config.loading"),
    **dict.fromkeys(["ReviewConfig", "Severity"], "codemem.config.review"),
    "Config": "codemem.config.schema",
    "SleepConfig": "codemem.config.sleep",
}

__all__ = [
    "BUILTIN_PROVIDERS",
    "ENV_PREFIX",
    "LAYERS",
    "GATED_TOOLS",
    "AgentConfig",
    "Config",
    "IndexConfig",
    "MapConfig",
    "ModelOverride",
    "PermissionMode",
    "PermissionsConfig",
    "ProviderConfig",
    "ProviderType",
    "ReviewConfig",
    "SearchConfig",
    "Section",
    "Severity",
    "SleepConfig",
    "environment_overrides",
    "layers_key",
    "load_config",
    "merge",
    "parse_rule",
    "provider_settings",
    "read_layers",
    "read_project_file",
    "read_yaml_file",
    "settings_from_text",
    "user_config_dir",
    "make_user_dir",
    "validate_layer",
    "validate_layers",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codemem.config' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

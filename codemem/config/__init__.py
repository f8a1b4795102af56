"""Configuration: defaults < user config < project config < environment < CLI flags.

Every section is a typed model (`config.sleep.idle_minutes`, `config.agent.max_steps`), and
every key is documented in `codemem/data/example.yml` (`codemem config example`). Each file is validated when it is read: a
broken one is reported in one line that names the file, the key and what is wrong.
"""

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
from codemem.config.loading import (
    ENV_PREFIX,
    LAYERS,
    environment_overrides,
    load_config,
    merge,
    read_layers,
    read_yaml_file,
    user_config_dir,
    validate_layer,
    validate_layers,
)
from codemem.config.review import ReviewConfig, Severity
from codemem.config.schema import Config
from codemem.config.sleep import SleepConfig

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
    "load_config",
    "merge",
    "parse_rule",
    "provider_settings",
    "read_layers",
    "read_yaml_file",
    "user_config_dir",
    "validate_layer",
    "validate_layers",
]

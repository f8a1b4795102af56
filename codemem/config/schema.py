"""The whole configuration: the top-level `model` and one typed section per key."""

from __future__ import annotations

from pydantic import Field

from codemem.config.agent import AgentConfig, PermissionsConfig, ProviderConfig
from codemem.config.core import IndexConfig, MapConfig, SearchConfig, Section
from codemem.config.review import ReviewConfig
from codemem.config.sleep import SleepConfig


class Config(Section):
    """Every setting of one run; each key is documented in `codemem/data/example.yml`."""

    model: str | None = None
    index: IndexConfig = Field(default_factory=IndexConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    sleep: SleepConfig = Field(default_factory=SleepConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)

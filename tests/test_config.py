from pathlib import Path

import pytest

from codemem.config import environment_overrides, load_config
from codemem.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path):
    config = load_config(tmp_path / "missing.yml")
    assert config.index.max_file_bytes == 1_000_000
    assert config.index.embeddings == "none"
    assert config.model is None


def test_precedence_user_project_env_flags(tmp_path, isolated_home):
    write(isolated_home / "codemem" / "config.yml", "model: anthropic/user\nindex:\n  chunk_lines: 50\n")
    project = write(tmp_path / "config.yml", "model: openai/project\nsearch:\n  k: 7\n")
    config = load_config(project)
    assert (config.model, config.index.chunk_lines, config.search.k) == ("openai/project", 50, 7)
    config = load_config(project, environ={"CODEMEM_MODEL": "ollama/env", "CODEMEM_SEARCH__K": "3"})
    assert (config.model, config.search.k) == ("ollama/env", 3)
    config = load_config(project, flags={"model": "anthropic/flag"}, environ={"CODEMEM_MODEL": "x/env"})
    assert config.model == "anthropic/flag"


def test_unknown_key_names_file_and_key(tmp_path):
    project = write(tmp_path / "config.yml", "index:\n  max_file_byte: 10\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert str(err.value) == f"{project}: index.max_file_byte: unknown key (see .codemem.example.yml for every key)"


def test_wrong_type_names_key(tmp_path):
    project = write(tmp_path / "config.yml", "index:\n  max_file_bytes: lots\n")
    with pytest.raises(ConfigError, match=r"config.yml: index.max_file_bytes: Input should be a valid integer"):
        load_config(project)


def test_invalid_yaml_names_line(tmp_path):
    project = write(tmp_path / "config.yml", "index:\n  include: [a\n")
    with pytest.raises(ConfigError, match=r"config.yml: line \d+: invalid YAML"):
        load_config(project)


def test_top_level_must_be_mapping(tmp_path):
    project = write(tmp_path / "config.yml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(project)


def test_environment_mapping_parses_values():
    env = {"CODEMEM_INDEX__MAX_FILE_BYTES": "2048", "CODEMEM_SEARCH__BM25": "false", "OTHER": "x"}
    assert environment_overrides(env) == {"index": {"max_file_bytes": 2048}, "search": {"bm25": False}}


def test_example_file_documents_every_key_with_its_default():
    import yaml
    from pydantic import BaseModel

    from codemem.config import Config

    root = Path(__file__).resolve().parent.parent
    example = yaml.safe_load((root / ".codemem.example.yml").read_text())
    defaults = Config().model_dump()

    def typed_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
        keys = set()
        for name, field in model.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                keys |= typed_keys(sub, f"{prefix}{name}.")
            else:
                keys.add(prefix + name)
        return keys

    def lookup(data: dict, dotted: str):
        for part in dotted.split("."):
            data = data[part]
        return data

    for key in typed_keys(Config):
        if isinstance(lookup(defaults, key), dict) and not lookup(defaults, key):
            continue  # free-form sections documented by their own modules
        assert lookup(example, key) == lookup(defaults, key), key
    Config.model_validate(example)


@pytest.mark.parametrize(
    ("section", "model_path"),
    [
        ("agent", "codemem.agent.settings:AgentConfig"),
        ("permissions", "codemem.agent.tools.permissions:PermissionsConfig"),
        ("sleep", "codemem.sleep.config:SleepConfig"),
        ("review", "codemem.review.config:ReviewConfig"),
    ],
)
def test_example_documents_sections_owned_by_other_modules(section, model_path):
    import importlib

    import yaml

    module, name = model_path.split(":")
    model = getattr(importlib.import_module(module), name)
    root = Path(__file__).resolve().parent.parent
    example = yaml.safe_load((root / ".codemem.example.yml").read_text())[section]
    assert set(example) == set(model.model_fields), section
    assert model.model_validate(example).model_dump() == model().model_dump()

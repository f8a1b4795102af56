import json
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from codemem.code.plan import fingerprint
from codemem.code.worktree import ListingSettings
from codemem.config import (
    Config,
    ModelOverride,
    ProviderConfig,
    defaults,
    environment_overrides,
    load_config,
    provider_settings,
)
from codemem.config.layers import read_layers
from codemem.config.snapshot import search_snapshot, sections_key
from codemem.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "codemem" / "data" / "example.yml"


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
    write(
        isolated_home / "codemem" / "config.yml",
        "model: anthropic/user\nindex:\n  chunk_lines: 50\n",
    )
    project = write(tmp_path / "config.yml", "model: openai/project\nsearch:\n  k: 7\n")
    config = load_config(project)
    assert (config.model, config.index.chunk_lines, config.search.k) == ("openai/project", 50, 7)
    config = load_config(project, environ={"CODEMEM_MODEL": "ollama/env", "CODEMEM_SEARCH__K": "3"})
    assert (config.model, config.search.k) == ("ollama/env", 3)
    config = load_config(
        project, flags={"model": "anthropic/flag"}, environ={"CODEMEM_MODEL": "x/env"}
    )
    assert config.model == "anthropic/flag"


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_unknown_key_is_named_with_its_file_and_ignored(tmp_path, caplog):
    # A teammate's newer codemem wrote a key this one does not know into the committed file:
    # every command of every other member failed with exit 2 until they upgraded too.
    project = write(
        tmp_path / "config.yml", "index:\n  max_file_byte: 10\n  chunk_lines: 40\nfuture: {a: 1}\n"
    )
    config = load_config(project)
    assert (config.index.chunk_lines, config.index.max_file_bytes) == (40, 1_000_000)
    assert warnings_of(caplog) == [
        f"{project}: index.max_file_byte: unknown key, ignored: did you mean max_file_bytes? "
        "Or a newer codemem's setting? (`codemem config example` shows every key)",
        f"{project}: future: unknown key, ignored: a newer codemem's setting? "
        "(`codemem config example` shows every key)",
    ]
    load_config(project)  # once per run
    assert len(warnings_of(caplog)) == 2


def test_unknown_key_under_permissions_or_in_the_environment_is_refused(tmp_path):
    # What an unknown permission would restrict cannot be ignored safely; the environment and
    # the flags are typed for this run, not shared with other versions.
    project = write(tmp_path / "config.yml", "permissions:\n  deny_network: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert str(err.value) == (
        f"{project}: permissions.deny_network: unknown key (`codemem config example` shows every key)"
    )
    with pytest.raises(ConfigError) as err:
        load_config(None, environ={"CODEMEM_SEARCH__KK": "3"})
    assert str(err.value) == (
        "environment: search.kk: unknown key, did you mean k? (`codemem config example` shows every key)"
    )


def test_wrong_type_names_key(tmp_path):
    project = write(tmp_path / "config.yml", "index:\n  max_file_bytes: lots\n")
    with pytest.raises(
        ConfigError, match=r"config.yml: index.max_file_bytes: Input should be a valid integer"
    ):
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
    assert environment_overrides(env) == {
        "index": {"max_file_bytes": 2048},
        "search": {"bm25": False},
    }


def typed_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key of `model`, dotted; a typed sub-section is walked, anything else is a leaf."""
    keys = set()
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys |= typed_keys(sub, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def written_keys(data: dict, model: type[BaseModel] | None, prefix: str = "") -> set[str]:
    """Every key written in `data`, dotted, walked the way `model` would read it."""
    keys = set()
    for name, value in data.items():
        field = model.model_fields.get(name) if model else None
        sub = field.annotation if field else None
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            keys |= written_keys(value, sub, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_example_file_documents_every_key_and_nothing_else():
    text = EXAMPLE.read_text()
    example = yaml.safe_load(text)

    assert sorted(written_keys(example, Config) - typed_keys(Config)) == []  # documented, unknown
    assert sorted(typed_keys(Config) - written_keys(example, Config)) == []  # known, undocumented
    assert Config.model_validate(example).model_dump() == Config().model_dump()  # the defaults
    # Entries of `providers:` and `agent.models` are examples in comments: every setting shows.
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for entry in (ProviderConfig, ModelOverride):
        missing = [name for name in entry.model_fields if not re.search(rf"\b{name}:", comments)]
        assert missing == [], entry.__name__


def test_every_section_is_typed():
    config = Config()
    assert set(Config.model_fields) == {
        "model",
        "index",
        "search",
        "map",
        "providers",
        "agent",
        "permissions",
        "sleep",
        "review",
    }
    assert (config.agent.max_steps, config.permissions.mode) == (50, "ask")
    assert (config.sleep.idle_minutes, config.review.fail_on) == (10, "error")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("search:\n  k: many\n", "search.k: Input should be a valid integer"),
        ("map:\n  tokens: [1]\n", "map.tokens: Input should be a valid integer"),
        (
            "providers:\n  gpu: {type: openai, timeout: soon}\n",
            "providers.gpu.timeout: Input should be a valid number",
        ),
        ("agent:\n  max_steps: lots\n", "agent.max_steps: Input should be a valid integer"),
        (
            "agent:\n  models: {gpt-5: {input_price: cheap}}\n",
            "agent.models.gpt-5.input_price: Input should be a valid number",
        ),
        (
            "permissions:\n  allow: run_command:pytest*\n",
            "permissions.allow: Input should be a valid list",
        ),
        ("sleep:\n  idle_minutes: soon\n", "sleep.idle_minutes: Input should be a valid number"),
        ("review:\n  hook_llm: perhaps\n", "review.hook_llm: Input should be a valid boolean"),
    ],
)
def test_wrong_type_in_any_section_is_one_line_naming_file_and_key(tmp_path, text, message):
    project = write(tmp_path / "config.yml", text)
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{project}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sleep:\n  idle_minute: 5\n",
            "sleep.idle_minute: unknown key, ignored: did you mean idle_minutes?",
        ),
        (
            "review:\n  fail_at: warning\n",
            "review.fail_at: unknown key, ignored: did you mean fail_on?",
        ),
        (
            "agent:\n  max_step: 3\n",
            "agent.max_step: unknown key, ignored: did you mean max_steps?",
        ),
        (
            "providers:\n  gpu: {type: openai, base_uri: x}\n",
            "providers.gpu.base_uri: unknown key, ignored: did you mean base_url?",
        ),
        (
            "agent:\n  models: {gpt-5: {max_outputs: 9}}\n",
            "agent.models.gpt-5.max_outputs: unknown key, ignored: did you mean max_output?",
        ),
        ("memory:\n  limit: 9\n", "memory: unknown key, ignored: a newer codemem's setting?"),
        ("revue:\n  llm: false\n", "revue: unknown key, ignored: did you mean review?"),
        ("sleep:\n  zzz: 1\n", "sleep.zzz: unknown key, ignored: a newer codemem's setting?"),
    ],
)
def test_unknown_keys_suggest_the_closest_valid_one(tmp_path, caplog, text, message):
    project = write(tmp_path / "config.yml", text)
    load_config(project)
    assert [line.split(" (`")[0] for line in warnings_of(caplog)] == [
        f"{project}: {message}"
        + ("" if message.endswith("setting?") else " Or a newer codemem's setting?")
    ]


def test_unknown_permissions_key_suggests_the_closest_valid_one(tmp_path):
    project = write(tmp_path / "config.yml", "permissions:\n  allows: []\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert str(err.value).startswith(
        f"{project}: permissions.allows: unknown key, did you mean allow?"
    )


def test_rule_errors_drop_pydantics_value_error_prefix(tmp_path):
    project = write(tmp_path / "config.yml", "agent:\n  compact_at: 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert str(err.value) == f"{project}: agent: compact_to must be below compact_at"


def test_layers_that_clash_only_together_are_both_named(tmp_path, isolated_home):
    user = write(isolated_home / "codemem" / "config.yml", "agent:\n  compact_to: 0.85\n")
    project = write(tmp_path / "config.yml", "agent:\n  compact_at: 0.8\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert str(err.value) == f"{user} + {project}: agent: compact_to must be below compact_at"


def test_a_provider_may_be_completed_by_another_layer(tmp_path, isolated_home):
    write(isolated_home / "codemem" / "config.yml", "providers:\n  gpu: {api_key_env: GPU_KEY}\n")
    project = write(
        tmp_path / "config.yml", "providers:\n  gpu: {type: openai-compatible, model: qwen3}\n"
    )
    config = load_config(project)
    settings = provider_settings("gpu", config.providers)
    assert (settings.type, settings.api_key_env, settings.model) == (
        "openai-compatible",
        "GPU_KEY",
        "qwen3",
    )
    assert provider_settings("anthropic", config.providers).api_key_env == "ANTHROPIC_API_KEY"


def test_a_provider_without_type_fails_at_load(tmp_path):
    project = write(tmp_path / "config.yml", "providers:\n  gpu: {base_url: http://g/v1}\n")
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert (
        str(err.value)
        == f"{project}: providers.gpu.type: required (anthropic, openai or openai-compatible)"
    )


def test_environment_reaches_every_section(tmp_path):
    env = {
        "CODEMEM_AGENT__MAX_STEPS": "7",
        "CODEMEM_AGENT__MODELS__QWEN__CONTEXT_WINDOW": "65536",
        "CODEMEM_PERMISSIONS__ALLOW": "[run_command:pytest*]",
        "CODEMEM_PROVIDERS__GPU__TYPE": "openai-compatible",
        "CODEMEM_PROVIDERS__GPU__BASE_URL": "http://g/v1",
        "CODEMEM_SLEEP__IDLE_MINUTES": "0.5",
        "CODEMEM_REVIEW__SEVERITY": "{tests: off, naming: warning}",
        "CODEMEM_MAP__TOKENS": "2048",
    }
    config = load_config(None, environ=env)
    assert config.agent.max_steps == 7
    assert config.agent.models["qwen"].context_window == 65536
    assert config.permissions.allow == ["run_command:pytest*"]
    assert (config.providers["gpu"].type, config.providers["gpu"].base_url) == (
        "openai-compatible",
        "http://g/v1",
    )
    assert (config.sleep.idle_minutes, config.review.severity, config.map.tokens) == (
        0.5,
        {"tests": "off", "naming": "warning"},
        2048,
    )


def test_environment_errors_name_the_environment():
    with pytest.raises(ConfigError) as err:
        load_config(None, environ={"CODEMEM_SLEEP__IDLE_MINUTES": "soon"})
    assert str(err.value).startswith(
        "environment: sleep.idle_minutes: Input should be a valid number"
    )


def test_flags_override_every_section(tmp_path):
    project = write(tmp_path / "config.yml", "sleep:\n  idle_minutes: 3\nreview:\n  llm: false\n")
    config = load_config(
        project,
        flags={
            "sleep": {"idle_minutes": 1},
            "agent": {"stream": False},
            "permissions": {"mode": "deny"},
        },
        environ={"CODEMEM_SLEEP__IDLE_MINUTES": "2"},
    )
    assert (config.sleep.idle_minutes, config.review.llm) == (1, False)
    assert (config.agent.stream, config.permissions.mode) == (False, "deny")
    with pytest.raises(ConfigError, match=r"^command-line flags: review\.fail_on: Input should be"):
        load_config(project, flags={"review": {"fail_on": "never"}})


def test_the_recorded_defaults_are_the_models_defaults():
    config = Config()
    expected = {
        "sections": sections_key(),
        **{s: getattr(config, s).model_dump() for s in defaults.SECTIONS},
    }
    assert json.loads(defaults.DEFAULTS_FILE.read_text()) == expected, (
        "codemem/data/defaults.json is out of date: write it again with "
        '`python -c "from codemem.config.defaults import write_defaults; write_defaults()"`'
    )


def test_no_layer_at_all_reads_the_defaults_the_code_index_would_validate(tmp_path):
    write(tmp_path / "config.yml", "# only comments: nothing set\n")
    settings = defaults.defaults_if_unset(read_layers(tmp_path / "config.yml"))
    config = Config()
    assert settings is not None
    assert settings.index.model_dump() == config.index.model_dump()
    assert settings.search.model_dump() == config.search.model_dump()
    assert fingerprint(settings) == fingerprint(config)  # no rebuild between the two
    assert search_snapshot(settings) == search_snapshot(config)
    assert ListingSettings.of(settings.index) == ListingSettings.of(config.index)


def test_any_layer_or_an_unusable_record_leaves_the_settings_to_validation(
    tmp_path, isolated_home, monkeypatch
):

    project = write(tmp_path / "config.yml", "search:\n  k: 5\n")
    assert defaults.defaults_if_unset(read_layers(project)) is None
    write(isolated_home / "codemem" / "config.yml", "model: anthropic/user\n")
    assert defaults.defaults_if_unset(read_layers(None)) is None
    (isolated_home / "codemem" / "config.yml").unlink()
    assert defaults.defaults_if_unset(read_layers(None, flags={"index": {"workers": 1}})) is None
    monkeypatch.setenv("CODEMEM_INDEX__WORKERS", "1")
    assert defaults.defaults_if_unset(read_layers(None)) is None
    monkeypatch.delenv("CODEMEM_INDEX__WORKERS")
    assert defaults.defaults_if_unset(read_layers(None)) is not None

    record = json.loads(defaults.DEFAULTS_FILE.read_text())
    written = tmp_path / "defaults.json"
    monkeypatch.setattr(defaults, "DEFAULTS_FILE", written)
    for text in [
        json.dumps({**record, "sections": "0" * 40}),  # written for another core.py
        json.dumps({**record, "index": ["not", "a", "section"]}),
        json.dumps({k: v for k, v in record.items() if k != "search"}),
        "{torn",
    ]:
        written.write_text(text)
        assert defaults.defaults_if_unset(read_layers(None)) is None
    written.unlink()
    assert defaults.defaults_if_unset(read_layers(None)) is None
    defaults.write_defaults(written)
    assert json.loads(written.read_text()) == record


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.symlink_to("/dev/zero"), "a link to /dev/zero, outside the repository"),
        (lambda p: os.mkfifo(p), "cannot read: not a regular file"),  # never waited on
        (lambda p: p.write_text("# " + "x" * 2_000_000 + "\n"), "larger than 1,048,576 bytes"),
        (lambda p: p.write_bytes(b"model: caf\xe9\n"), "cannot read: not UTF-8"),
        (lambda p: p.write_text("model: 2025-02-30\n"), "invalid YAML: day is out of range"),
        (lambda p: p.write_text("search:\n  k: !!int x\n"), "invalid YAML: invalid literal"),
        (lambda p: p.write_text("index:\n  exclude: " + "[" * 5000 + "]" * 5000 + "\n"), None),
        (lambda p: p.write_text("index:\n  exclude: " + "[" * 40 + "]" * 40 + "\n"), "nested"),
    ],
)
def test_a_settings_file_that_is_no_settings_file_is_one_line_naming_it(tmp_path, make, problem):
    # A cloned repository commits its .codemem/config.yml: whatever it is, one line, no hang.
    project = tmp_path / "config.yml"
    make(project)
    with pytest.raises(ConfigError) as err:
        load_config(project)
    message = str(err.value)
    assert message.startswith(f"{project}:") and "\n" not in message
    assert problem is None or problem in message


def test_a_variable_that_is_no_yaml_value_is_one_line_naming_it():
    for value in ("[unclosed", "2025-02-30", "[" * 50 + "]" * 50):
        with pytest.raises(ConfigError) as err:
            environment_overrides({"CODEMEM_SEARCH__K": value})
        assert str(err.value).startswith("CODEMEM_SEARCH__K: ")


def test_a_project_settings_file_linked_out_of_its_repository_is_refused(tmp_path, monkeypatch):
    # A cloned repository may commit .codemem/config.yml as a link to a file elsewhere (another
    # file of yours, a secret in /tmp): it was read as the project's settings; then read first
    # and refused after, so a file there that is no YAML (credentials) was parsed and reported
    # as the project's broken YAML. A link to a file inside the repository is still read.
    import codemem.config.layers as layers_module

    (tmp_path / "elsewhere.yml").write_text("search:\n  k: 3\n")
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = x\nkey: a: b\n")
    repo = tmp_path / "repo"
    (repo / ".codemem").mkdir(parents=True)
    (repo / "shared.yml").write_text("search:\n  k: 4\n")
    project = repo / ".codemem" / "config.yml"
    project.symlink_to(repo / "shared.yml")
    assert load_config(project).search.k == 4
    read: list[Path] = []
    real = layers_module.read_yaml_file
    monkeypatch.setattr(layers_module, "read_yaml_file", lambda p: read.append(p) or real(p))
    for elsewhere in (tmp_path / "elsewhere.yml", tmp_path / "credentials"):
        project.unlink()
        project.symlink_to(elsewhere)
        with pytest.raises(ConfigError) as err:
            load_config(project)
        assert str(err.value) == (
            f"{project}: a link to {elsewhere.resolve()}, outside the repository: the "
            "project's settings are read only from inside it; replace the link by the file"
        )
    assert project not in read
    assert project not in read

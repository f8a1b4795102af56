"""Model strings to providers: prefixes, named providers, keys, env vars, overrides."""

from __future__ import annotations

import logging

import pytest
import yaml
from fakeserver import FakeServer, Turn

from codemem.agent.messages import Message
from codemem.agent.providers.anthropic import AnthropicProvider
from codemem.agent.providers.errors import MissingAPIKey
from codemem.agent.providers.openai import OpenAIProvider
from codemem.agent.providers.registry import resolve_provider
from codemem.agent.providers.scripted import ScriptedProvider
from codemem.config import Config, load_config
from codemem.errors import ConfigError, UsageError


@pytest.fixture(autouse=True)
def no_other_credentials(monkeypatch):
    for name in ("ANTHROPIC_AUTH_TOKEN", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")


def test_anthropic_model(keys):
    provider = resolve_provider("anthropic/claude-opus-4-6")

    assert isinstance(provider, AnthropicProvider)
    assert (provider.model, provider.api_model) == ("anthropic/claude-opus-4-6", "claude-opus-4-6")
    assert (provider.info.context_window, provider.info.input_price) == (1_000_000, 5)
    assert provider.base_url == "https://api.anthropic.com"
    assert provider.client.max_retries == 0


def test_openai_model(keys):
    provider = resolve_provider("openai/gpt-5")

    assert isinstance(provider, OpenAIProvider)
    assert (provider.api_model, provider.compatible) == ("gpt-5", False)
    assert provider.info.context_window == 400_000
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.client.max_retries == 0


def test_ollama_needs_no_key(caplog):
    with caplog.at_level(logging.WARNING, logger="codemem"):
        provider = resolve_provider("ollama/qwen2.5-coder:7b")

    assert isinstance(provider, OpenAIProvider)
    assert (provider.api_model, provider.compatible) == ("qwen2.5-coder:7b", True)
    assert provider.base_url == "http://localhost:11434/v1"
    assert (provider.info.context_window, provider.info.known) == (
        32_768,
        True,
    )  # the suggested local model
    assert caplog.text == ""


def test_openrouter_uses_its_own_key(monkeypatch):
    with pytest.raises(MissingAPIKey) as caught:
        resolve_provider("openrouter/anthropic/claude-sonnet-4.5")
    assert str(caught.value) == (
        "OPENROUTER_API_KEY is not set: export it, or choose another model with --model"
    )

    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or")
    provider = resolve_provider("openrouter/anthropic/claude-sonnet-4.5")
    assert provider.api_model == "anthropic/claude-sonnet-4.5"
    assert provider.base_url == "https://openrouter.ai/api/v1"
    assert provider.info.context_window == 200_000  # found as claude-sonnet-4-5


@pytest.mark.parametrize(
    "model, variable",
    [
        ("anthropic/claude-sonnet-4-6", "ANTHROPIC_API_KEY"),
        ("openai/gpt-5", "OPENAI_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(model, variable):
    with pytest.raises(MissingAPIKey) as caught:
        resolve_provider(model)

    assert str(caught.value) == (
        f"{variable} is not set: export it, or choose another model with --model"
    )


def test_anthropic_auth_token_is_accepted(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token")

    assert isinstance(resolve_provider("anthropic/claude-haiku-4-5"), AnthropicProvider)


def test_named_provider_from_config_and_default_model():
    config = Config(
        providers={
            "gpu": {
                "type": "openai-compatible",
                "base_url": "http://gpu:8000/v1",
                "model": "qwen3-coder",
            },
            "lmstudio": {"base_url": "http://127.0.0.1:4321/v1"},  # overrides the built-in
        },
        model="gpu/qwen3-coder",
    )

    by_config = resolve_provider(None, config)
    by_name = resolve_provider("gpu", config)
    lmstudio = resolve_provider("lmstudio/llama", config)

    assert (by_config.model, by_config.base_url) == ("gpu/qwen3-coder", "http://gpu:8000/v1")
    assert by_name.model == "gpu/qwen3-coder"
    assert lmstudio.base_url == "http://127.0.0.1:4321/v1"


def test_named_provider_key_env(monkeypatch):
    config = Config(
        providers={
            "corp": {"type": "openai", "base_url": "http://corp/v1", "api_key_env": "CORP_KEY"}
        }
    )
    with pytest.raises(MissingAPIKey, match="^CORP_KEY is not set"):
        resolve_provider("corp/gpt-5", config)

    monkeypatch.setenv("CORP_KEY", "k")
    assert resolve_provider("corp/gpt-5", config).client.api_key == "k"


@pytest.mark.parametrize(
    "model, provider_type",
    [
        ("claude-sonnet-4-6", AnthropicProvider),
        ("gpt-5-mini", OpenAIProvider),
        ("o3", OpenAIProvider),
    ],
)
def test_bare_names_pick_the_obvious_provider(keys, model, provider_type):
    assert isinstance(resolve_provider(model), provider_type)


def test_unknown_provider_lists_the_valid_ones():
    config = Config(providers={"gpu": {"type": "openai-compatible", "base_url": "http://g/v1"}})

    with pytest.raises(UsageError) as caught:
        resolve_provider("mistral/codestral", config)

    assert str(caught.value) == (
        "unknown provider 'mistral' in model 'mistral/codestral': use one of anthropic, openai, "
        "ollama, openrouter, lmstudio, vllm, llamacpp, gpu "
        "(or define providers.mistral in config)"
    )


def test_no_model_at_all():
    with pytest.raises(UsageError, match="^no model configured: pass --model, set CODEMEM_MODEL"):
        resolve_provider(None, Config())


def test_bare_provider_without_default_model():
    with pytest.raises(UsageError, match="provider 'ollama' has no default model"):
        resolve_provider("ollama")


def test_unguessable_bare_name():
    with pytest.raises(UsageError, match="cannot tell the provider of model 'qwen'"):
        resolve_provider("qwen")


@pytest.mark.parametrize(
    "providers, message",
    [
        ({"x": {"base_url": "http://x"}}, "providers.x.type: required"),
        ({"x": {"type": "gemini"}}, "providers.x.type: Input should be"),
        ({"x": {"type": "openai", "timeout": -1}}, "providers.x.timeout: Input should be greater"),
    ],
)
def test_invalid_provider_settings(tmp_path, providers, message):
    project = tmp_path / "config.yml"
    project.write_text(yaml.safe_dump({"providers": providers}))
    with pytest.raises(ConfigError, match=f"^{project}: " + message.replace(".", r"\.")):
        load_config(project)


def test_model_table_overrides_from_config(keys):
    config = Config(
        agent={
            "models": {
                "ollama/qwen3": {"context_window": 131072, "max_output": 16384},
                "gpt-5": {"input_price": 1.0},
            }
        }
    )

    local = resolve_provider("ollama/qwen3", config)
    gpt = resolve_provider("openai/gpt-5", config)

    assert (local.info.context_window, local.info.max_output) == (131072, 16384)
    assert (gpt.info.input_price, gpt.info.output_price) == (1.0, 10)


def test_invalid_model_override(tmp_path):
    project = tmp_path / "config.yml"
    project.write_text("agent:\n  models:\n    qwen: {context_window: big}\n")

    with pytest.raises(ConfigError, match=rf"^{project}: agent\.models\.qwen\.context_window: "):
        load_config(project)


def test_scripted_demo_file(tmp_path):
    script = tmp_path / "demo.yml"
    script.write_text("- tool_calls: [{name: list_files, arguments: {path: .}}]\n- All done.\n")

    provider = resolve_provider(f"scripted/{script}")

    assert isinstance(provider, ScriptedProvider)
    first = provider.complete("s", [Message.user("go")])
    assert [(c.name, c.arguments) for c in first.message.tool_calls] == [
        ("list_files", {"path": "."})
    ]
    assert provider.complete("s", [Message.user("go")]).message.content == "All done."


def test_anthropic_base_url_env_is_honoured(monkeypatch):
    with FakeServer() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
        server.push(Turn(text="from the fake"))

        provider = resolve_provider("anthropic/claude-sonnet-4-6")
        answer = provider.complete("s", [Message.user("hi")])

    assert answer.message.content == "from the fake"
    assert provider.base_url == server.anthropic_url
    assert server.last.headers["authorization"] == "Bearer sk-ant-env"


def test_openai_base_url_env_is_honoured(monkeypatch):
    with FakeServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
        server.push(Turn(text="from the fake"))

        provider = resolve_provider("openai/gpt-5")
        answer = provider.complete("s", [Message.user("hi")], on_text=lambda _: None)

    assert answer.message.content == "from the fake"
    assert server.last.headers["authorization"] == "Bearer sk-env"

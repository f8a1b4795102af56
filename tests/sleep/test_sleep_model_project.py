"""The model-written project summary: `codemem init --llm`, and digests keeping it true."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from model_helpers import block_file, model_digest
from sleep_helpers import commit, config, digest, init

from codemem.agent.providers import ProviderUnavailable, ScriptedProvider
from codemem.cli import cli
from codemem.code import CodeIndex
from codemem.errors import UsageError
from codemem.memory import MemoryStore
from codemem.sleep import learn_project
from codemem.sleep.project_init import (
    HEADER,
    REFRESH_SYSTEM,
    WRITE_SYSTEM,
    current_summary,
    open_init_model,
    write_project_summary,
)
from tests.helpers import make_repo

SUMMARY = (
    "pyshop is a tiny shop backend.\n\n- `shop/cart.py`: carts and totals\n- Test: `make test`"
)


@pytest.fixture
def shop(tmp_path):
    ws = init(make_repo(tmp_path / "shop", "sleep/pyshop"))
    (ws.root / ".git/info/exclude").write_text(".codemem/\n")  # later commits: code only
    CodeIndex(ws, config()).refresh()
    return ws


def project_value(ws) -> str:
    return MemoryStore(ws).get("project").value


def test_the_summary_goes_into_its_own_region_at_the_top_of_project(shop):
    provider = ScriptedProvider([f"```markdown\n## Project summary\n{SUMMARY}\n```"])
    model, warnings = open_init_model(shop, config(), explicit=True, provider=provider)
    changes, warnings = write_project_summary(shop, config(), model)
    learn_project(shop, config())

    assert [(c.kind, c.target, c.detail) for c in changes] == [
        ("block", "project", "project summary")
    ]
    assert warnings == []
    value = project_value(shop)
    assert value.split("\n\n<!-- codemem:project:start -->")[0] == (
        f"<!-- codemem:project-summary:start -->\n{HEADER}\n\n{SUMMARY}\n<!-- codemem:project-summary:end -->"
    )
    assert current_summary(value) == SUMMARY
    call = provider.calls[0]
    assert call.system == [WRITE_SYSTEM.format(max_chars="1,500")]
    sources = re.findall(r"^### (.+)\n`{3,}$", call.messages[0].content, re.M)
    assert sources == [
        "README.md",
        "pyproject.toml",
        "Makefile",
        ".github/workflows/ci.yml",
        "codemem's extracted overview",
        "repo map (most referenced files first)",
    ]
    assert call.messages[0].content.startswith(
        "Repository `shop`.\n\n### README.md\n````\n# pyshop\n"
    )


def test_a_long_summary_is_cut_to_project_summary_chars(shop):
    lines = "\n".join(f"- point {n}: " + "y" * 40 for n in range(30))
    model, _ = open_init_model(
        shop, config(project_summary_chars=200), explicit=True, provider=ScriptedProvider([lines])
    )
    _, warnings = write_project_summary(shop, config(project_summary_chars=200), model)

    assert current_summary(project_value(shop)) == "\n".join(lines.splitlines()[:3])
    assert warnings == ["the project summary was cut to 200 characters to fit project"]


def test_a_model_failure_at_init_is_a_warning_and_writes_nothing(shop):
    before = block_file(shop, "project")
    model, _ = open_init_model(
        shop,
        config(),
        explicit=True,
        provider=ScriptedProvider([ProviderUnavailable("scripted: 503")]),
    )
    changes, warnings = write_project_summary(shop, config(), model)

    assert changes == [] and warnings == [
        "project summary (not written): the model failed (scripted: 503)"
    ]
    assert block_file(shop, "project") == before


def test_a_digest_keeps_the_summary_true_for_new_commits(shop):
    digest(shop, llm=False)
    model, _ = open_init_model(shop, config(), explicit=True, provider=ScriptedProvider([SUMMARY]))
    write_project_summary(shop, config(), model)
    sha = commit(
        shop.root,
        "Explain receipts in the README",
        "2025-03-05T10:00:00+00:00",
        {"README.md": "# pyshop\n\nA shop backend that prints receipts as plain text.\n"},
    )
    updated = SUMMARY + "\n- Receipts are plain text."
    provider = ScriptedProvider(["The README now says receipts are plain text.", updated])
    result = model_digest(shop, provider)

    assert current_summary(project_value(shop)) == updated
    assert result.model.project_summary == "updated"
    assert ("block", "project", "project summary") in [
        (c.kind, c.target, c.detail) for c in result.changes
    ]
    refresh = provider.calls[1]
    assert refresh.system == [REFRESH_SYSTEM.format(unchanged="UNCHANGED", max_chars="1,500")]
    assert (
        refresh.messages[0].content
        == f"""\
Current summary:
<summary>
{SUMMARY}
</summary>

Commits since it was checked (oldest first):
- 2025-03-05 {sha[:7]} Explain receipts in the README (files: README.md)
  The README now says receipts are plain text.

### README.md
```
# pyshop

A shop backend that prints receipts as plain text.
```"""
    )


def test_an_unchanged_answer_writes_nothing_and_no_commits_means_no_call(shop):
    digest(shop, llm=False)
    model, _ = open_init_model(shop, config(), explicit=True, provider=ScriptedProvider([SUMMARY]))
    write_project_summary(shop, config(), model)
    commit(
        shop.root,
        "Tidy the tests",
        "2025-03-05T10:00:00+00:00",
        {"tests/test_more.py": "def test_x():\n    pass\n"},
    )
    provider = ScriptedProvider(["Adds an empty test.", "UNCHANGED"])
    result = model_digest(shop, provider)

    assert result.model.project_summary == "unchanged"
    assert current_summary(project_value(shop)) == SUMMARY
    assert "project summary" not in [c.detail for c in result.changes]
    idle = ScriptedProvider([])
    model_digest(shop, idle)
    assert idle.calls == []


def test_without_a_summary_region_a_digest_does_not_ask_for_one(shop):
    digest(shop, llm=False)
    commit(
        shop.root,
        "Tidy",
        "2025-03-05T10:00:00+00:00",
        {"tests/test_more.py": "def test_x():\n    pass\n"},
    )
    provider = ScriptedProvider(["Adds an empty test."])
    result = model_digest(shop, provider)

    assert len(provider.calls) == 1 and result.model.project_summary is None
    assert "project-summary" not in project_value(shop)


def test_init_llm_needs_a_model(shop):
    with pytest.raises(UsageError, match="no model configured for the project summary"):
        open_init_model(shop, config(), explicit=True)
    assert open_init_model(shop, config(), explicit=False) == (None, [])
    model, warnings = open_init_model(shop, config(init_llm=True), explicit=False)
    assert model is None and warnings == [
        "no model configured for the project summary: set model: in .codemem/config.yml, "
        "CODEMEM_MODEL or sleep.model (sleep.init_llm is true)"
    ]


def write_script(tmp_path, answers) -> str:
    path = tmp_path / "script.yml"
    path.write_text(json.dumps(answers), encoding="utf-8")
    return f"scripted/{path}"


def test_codemem_init_llm_writes_the_summary_once(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    monkeypatch.setenv("CODEMEM_MODEL", write_script(tmp_path, [SUMMARY]))
    first = CliRunner().invoke(cli, ["--repo", str(repo), "init", "--llm"], catch_exceptions=False)

    assert first.exit_code == 0, first.output
    assert (
        f"Wrote scripted/{tmp_path}/script.yml's project summary into .codemem/blocks/project.md."
        in first.stdout
    )
    value = (repo / ".codemem/blocks/project.md").read_text()
    assert current_summary(value.split("---\n", 2)[2]) == SUMMARY
    assert value.index("codemem:project-summary:start") < value.index("codemem:project:start")

    # sleep.init_llm only writes a summary that is missing: a second init calls no model
    # (the script is used up, so a call would show as a warning).
    (repo / ".codemem/config.yml").write_text("sleep:\n  init_llm: true\n", encoding="utf-8")
    again = CliRunner().invoke(cli, ["--repo", str(repo), "init"], catch_exceptions=False)
    assert again.exit_code == 0 and again.stderr == ""


def test_codemem_init_llm_without_a_model_exits_2(tmp_path):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    result = CliRunner().invoke(cli, ["--repo", str(repo), "init", "--llm"])
    assert result.exit_code == 2
    assert "no model configured for the project summary" in result.stderr
    assert not (repo / ".codemem").exists()


def test_codemem_init_llm_with_a_missing_key_exits_2_and_the_config_setting_warns(
    tmp_path, monkeypatch
):
    repo = make_repo(tmp_path / "shop", "sleep/pyshop")
    monkeypatch.setenv("CODEMEM_MODEL", "anthropic/claude-sonnet-4-5")
    flag = CliRunner().invoke(cli, ["--repo", str(repo), "init", "--llm", "--no-index"])
    assert flag.exit_code == 2
    assert (
        flag.stderr
        == "codemem: error: ANTHROPIC_API_KEY is not set: export it, or choose another model with --model, or drop --llm\n"
    )

    monkeypatch.setenv("CODEMEM_SLEEP__INIT_LLM", "true")
    configured = CliRunner().invoke(cli, ["--repo", str(repo), "init", "--no-index"])
    assert configured.exit_code == 0
    assert configured.stderr == (
        "codemem: warning: ANTHROPIC_API_KEY is not set: export it, or choose another model with "
        "--model; no project summary was written\n"
    )

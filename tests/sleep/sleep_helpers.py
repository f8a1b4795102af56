"""Helpers for the sleep tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from codemem.config import load_config
from codemem.memory import initialize_memory
from codemem.sleep import DigestOptions, run_digest
from codemem.workspace import Workspace
from tests.helpers import git

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
PEOPLE = {
    "alice": ("Alice Liddell", "alice@example.com"),
    "bob": ("Bob Builder", "bob@example.com"),
}


def commit(
    repo: Path,
    message: str,
    when: str,
    files: dict[str, str | None] | None = None,
    author: str = "alice",
    renames: dict[str, str] | None = None,
) -> str:
    """Write (or with None, delete) files, then commit them at `when` (ISO) as `author`."""
    for old, new in (renames or {}).items():
        (repo / new).parent.mkdir(parents=True, exist_ok=True)
        git(repo, "mv", old, new)
    for path, text in (files or {}).items():
        target = repo / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    name, email = PEOPLE[author]
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": when,
    }
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def config(**sleep):
    """A configuration with these `sleep:` settings (no project file, no home file)."""
    return load_config(None, flags={"sleep": sleep} if sleep else None)


def init(repo: Path) -> Workspace:
    ws = Workspace(repo)
    initialize_memory(ws)
    return ws


def digest(ws: Workspace, cfg=None, **options):
    return run_digest(ws, cfg or config(), DigestOptions(**options), now=lambda: NOW)


def snapshot(ws: Workspace) -> dict[str, bytes]:
    """Every committed file under .codemem/ (local/ is derived and left out)."""
    return {
        p.relative_to(ws.dir).as_posix(): p.read_bytes()
        for p in sorted(ws.dir.rglob("*"))
        if p.is_file() and not p.relative_to(ws.dir).as_posix().startswith("local/")
    }


def read_value(ws: Workspace, label: str) -> str:
    from codemem.memory import MemoryStore

    return MemoryStore(ws, user="tester").get(label).value


def scripted_history(repo: Path) -> list[str]:
    """Four commits over the pyshop fixture (already copied into `repo`); returns their ids."""
    shas = [commit(repo, "Add the shop package", "2025-03-01T10:00:00+00:00")]
    cart = (repo / "shop/cart.py").read_text()
    prices = (repo / "shop/prices.py").read_text()
    shas.append(
        commit(
            repo,
            "Add VAT to cart totals\n\nPrices shown to customers include 20% VAT.",
            "2025-03-02T09:30:00+00:00",
            {
                "shop/cart.py": cart.replace(
                    "return Price(sum(i.price.cents * i.quantity for i in self.items))",
                    "return with_vat(Price(sum(i.price.cents * i.quantity for i in self.items)))",
                ).replace("import Price, format_price\n", "import Price, format_price, with_vat\n"),
                "shop/prices.py": prices + "\n\ndef with_vat(price: Price) -> Price:\n"
                '    """The price plus 20% VAT."""\n    return Price(price.cents * 120 // 100)\n',
                "poetry.lock": "# a lock file\n",
            },
            author="bob",
        )
    )
    prices = (repo / "shop/prices.py").read_text()
    shas.append(
        commit(
            repo,
            "Remove the legacy discount",
            "2025-03-03T15:00:00+01:00",
            {
                "shop/prices.py": prices.replace(
                    "\n\ndef legacy_discount(price, percent):\n    return Price(price.cents * (100 - percent) // 100)\n",
                    "\n",
                )
            },
            renames={"shop/receipts.py": "shop/receipt.py"},
        )
    )
    shas.append(
        commit(
            repo,
            "Document the CLI",
            "2025-03-04T08:00:00+00:00",
            {"docs/usage.md": "# Usage\n\nRun `pyshop receipt cart.json`.\n"},
            author="bob",
        )
    )
    return shas

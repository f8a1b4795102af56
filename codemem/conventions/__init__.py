"""The conventions miner: deterministic rules learned from the code, tool settings and git
history, as records (`Rule`) stored in `.codemem/conventions.json` and rendered into the
marked region of `blocks/conventions.md`.

- `mine_conventions(gather_facts(ws, config, settings))`: the learned rules, without writing.
- `render_records(rules)` / `read_records(ws)`: the records file the review reads.
- `ConventionsRegion(rules)`: the Markdown region, fitted to the room the block has left.
- `RepoFiles`, the marked-region helpers (`with_region`...), `name_styles`, `is_public`,
  `split_params`: shared with the sleep-time pass and the review.
"""

from codemem.conventions.code_style import (
    MIXED,
    NAMED_KINDS,
    NAMING_STYLES,
    display,
    is_public,
    name_styles,
    split_params,
)
from codemem.conventions.commit_style import CommitMessage
from codemem.conventions.miner import (
    LABEL,
    NOTE_TAGS,
    REGION,
    CodeFacts,
    ConventionsRegion,
    gather_facts,
    mine_conventions,
    render_conventions,
    render_rule,
)
from codemem.conventions.records import (
    parse_records,
    read_records,
    records_damage,
    records_path,
    render_records,
)
from codemem.conventions.regions import (
    RegionError,
    find_region,
    fit,
    markers,
    region_body,
    region_budget,
    with_region,
    wrap,
)
from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import TOPICS, Evidence, Rule

__all__ = [
    "LABEL", "MIXED", "NAMED_KINDS", "NAMING_STYLES", "NOTE_TAGS", "REGION", "TOPICS",
    "CodeFacts", "CommitMessage", "ConventionsRegion", "Evidence", "RegionError", "RepoFiles", "Rule",
    "dig", "display", "find_region", "fit", "gather_facts", "is_public", "markers", "mine_conventions",
    "name_styles", "parse_records", "read_records",
    "records_damage", "records_path", "region_body", "region_budget",
    "render_conventions", "render_records", "render_rule", "split_params", "with_region", "wrap",
]

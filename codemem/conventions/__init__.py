"""The conventions miner: deterministic rules learned from the code, tool settings and git
history, as records (`Rule`) stored in `.codemem/conventions.json` and rendered into the
marked region of `blocks/conventions.md`.

- `mine_conventions(gather_facts(ws, config, settings), min_samples, read_records(ws))`: the
  learned rules in their stable form (bands, no counts, examples kept while they hold),
  without writing.
- `band_of(share)` / `BANDS`: how much of the code follows a rule, in stable words.
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
from codemem.conventions.commit_style import (
    CONVENTIONAL,
    ISSUE_REF,
    PAST,
    THIRD,
    VERBS,
    CommitMessage,
)
from codemem.conventions.conflicts import (
    Resolved,
    ours_side,
    resolve_learned_conflicts,
)
from codemem.conventions.dismissal_merge import dismissal_entries, dismissal_text
from codemem.conventions.merge import merge_files
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
    NewerRecords,
    parse_records,
    read_records,
    records_damage,
    records_path,
    records_text,
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
from codemem.conventions.remerge import unmerged_memory
from codemem.conventions.repo_files import RepoFiles, dig
from codemem.conventions.rules import BANDS, BANDS_BY_KEY, TOPICS, Band, Evidence, Rule, band_of
from codemem.conventions.stable import stable_rules
from codemem.memory import has_conflict  # one reading of git's markers, kept here for callers

__all__ = [
    "merge_files",
    "unmerged_memory",
    "dismissal_entries",
    "dismissal_text",  # the dismissal file's layout, which the merge driver keeps
    "CONVENTIONAL",
    "ISSUE_REF",
    "PAST",
    "THIRD",
    "VERBS",  # the commit-message vocabulary
    "BANDS",
    "BANDS_BY_KEY",
    "LABEL",
    "MIXED",
    "NAMED_KINDS",
    "NAMING_STYLES",
    "NOTE_TAGS",
    "REGION",
    "TOPICS",
    "Band",
    "CodeFacts",
    "CommitMessage",
    "ConventionsRegion",
    "Evidence",
    "RegionError",
    "RepoFiles",
    "Resolved",
    "Rule",
    "band_of",
    "dig",
    "display",
    "find_region",
    "fit",
    "gather_facts",
    "has_conflict",
    "is_public",
    "markers",
    "mine_conventions",
    "name_styles",
    "ours_side",
    "NewerRecords",
    "parse_records",
    "read_records",
    "records_damage",
    "records_text",
    "records_path",
    "region_body",
    "region_budget",
    "render_conventions",
    "render_records",
    "resolve_learned_conflicts",
    "render_rule",
    "split_params",
    "stable_rules",
    "with_region",
    "wrap",
]

"""Merge conflicts in memory files: learned regions are resolved, people's text is left."""

from __future__ import annotations

from codemem.conventions import has_conflict, ours_side, resolve_learned_conflicts

START, END = "<!-- codemem:conventions:start -->", "<!-- codemem:conventions:end -->"


def test_a_conflict_inside_a_learned_region_takes_our_side():
    text = "\n".join(
        [
            "Mine.",
            START,
            "## Learned",
            "<<<<<<< HEAD",
            "- a (all)",
            "=======",
            "- a (most, ≥80%)",
            ">>>>>>> origin/main",
            END,
            "After.",
        ]
    )
    fixed = resolve_learned_conflicts(text)
    assert (fixed.text, fixed.resolved, fixed.left) == (
        "\n".join(["Mine.", START, "## Learned", "- a (all)", END, "After."]),
        1,
        0,
    )
    assert has_conflict(text) and not has_conflict(fixed.text)


def test_a_conflict_across_the_markers_is_learned_and_peoples_text_is_left():
    text = "\n".join(
        [
            "<<<<<<< HEAD",
            "Deploy on Fridays.",
            "||||||| base",
            "Deploy.",
            "=======",
            "Never deploy on Fridays.",
            ">>>>>>> theirs",
            "",
            "<<<<<<< HEAD",
            START,
            "ours",
            END,
            "=======",
            START,
            "theirs",
            END,
            ">>>>>>> theirs",
        ]
    )
    fixed = resolve_learned_conflicts(text)
    assert (fixed.resolved, fixed.left) == (1, 1)
    assert fixed.text == "\n".join(
        [
            "<<<<<<< HEAD",
            "Deploy on Fridays.",
            "||||||| base",
            "Deploy.",
            "=======",
            "Never deploy on Fridays.",
            ">>>>>>> theirs",
            "",
            START,
            "ours",
            END,
        ]
    )


def test_our_side_of_a_whole_file():
    assert (
        ours_side('{\n<<<<<<< HEAD\n  "a": 1\n=======\n  "a": 2\n>>>>>>> x\n}') == '{\n  "a": 1\n}'
    )
    assert ours_side("no conflict\n") == "no conflict\n"

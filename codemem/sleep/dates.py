"""Relative dates ("yesterday", "3 days ago", "last week") made absolute.

A note or block line that says "yesterday" is wrong a day later; the date it meant is known
(the note's creation time, the commit that wrote the line), so it is written out. Code
(fenced blocks and `inline code`) and codemem's own marked regions are left alone.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_PREPOSITION = r"(?P<prep>\b(?:since|until|till|before|after|by|from|as of)\s+)?"
RELATIVE = re.compile(
    _PREPOSITION + r"(?P<phrase>\b(?:"
    r"(?P<day>today|yesterday|tomorrow|tonight|this morning|this afternoon|this evening)"
    r"|(?P<count>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten) (?P<unit>day|week|month|year)s? ago"
    r"|(?P<which>last|this|next) (?P<span>week|month|year)"
    r")\b)(?!['’]s)(?!-)",
    re.IGNORECASE,
)
_CODE = re.compile(r"`[^`\n]*`")
_REGION = re.compile(r"<!-- codemem:([\w-]+):start -->.*?<!-- codemem:\1:end -->", re.S)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _absolute(match: re.Match, today: date) -> tuple[str, str]:
    """(preposition for the bare form, absolute text) for one relative phrase."""
    word = (match.group("day") or "").lower()
    if word:
        offset = {"yesterday": -1, "tomorrow": 1}.get(word, 0)
        return "on", (today + timedelta(days=offset)).isoformat()
    if match.group("count"):
        raw = match.group("count").lower()
        n = int(raw) if raw.isdigit() else NUMBERS[raw]
        unit = match.group("unit").lower()
        shift = {"day": 0, "week": 0, "month": -n, "year": -12 * n}[unit]
        if unit == "day":
            return "on", (today - timedelta(days=n)).isoformat()
        if unit == "week":
            return "in", f"the week of {_monday(today - timedelta(weeks=n)).isoformat()}"
        then = _add_months(today, shift)
        return (
            ("in", f"{calendar.month_name[then.month]} {then.year}")
            if unit == "month"
            else ("in", str(then.year))
        )
    step = {"last": -1, "this": 0, "next": 1}[match.group("which").lower()]
    span = match.group("span").lower()
    if span == "week":
        return "in", f"the week of {_monday(today + timedelta(weeks=step)).isoformat()}"
    if span == "month":
        then = _add_months(today.replace(day=1), step)
        return "in", f"{calendar.month_name[then.month]} {then.year}"
    return "in", str(today.year + step)


def _replace_line(line: str, today: date) -> str:
    def replace(match: re.Match) -> str:
        preposition, text = _absolute(match, today)
        if match.group("prep"):
            return match.group("prep") + text
        out = f"{preposition} {text}"
        return out[0].upper() + out[1:] if match.group("phrase")[0].isupper() else out

    pieces, last = [], 0
    for code in _CODE.finditer(line):
        pieces.append(RELATIVE.sub(replace, line[last : code.start()]))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(RELATIVE.sub(replace, line[last:]))
    return "".join(pieces)


def absolute_dates(text: str, date_of_line: Callable[[int], date | None]) -> str:
    """`text` with relative dates rewritten; `date_of_line(i)` is when line i was written
    (None when nobody knows: its relative dates stay as they are)."""
    protected: set[int] = set()
    for region in _REGION.finditer(text):
        first = text.count("\n", 0, region.start())
        protected.update(range(first, first + region.group(0).count("\n") + 1))
    out, fenced = [], False
    for i, line in enumerate(text.split("\n")):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            out.append(line)
        elif fenced or i in protected or not RELATIVE.search(line):
            out.append(line)
        else:
            day = date_of_line(i)
            out.append(line if day is None else _replace_line(line, day))
    return "\n".join(out)

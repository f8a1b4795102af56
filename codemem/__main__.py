"""`python -m codemem` and the `codemem` command (pyproject's script entry point is `run`).

A Ctrl-C while Python is still importing the command line (the first tenth of a second or so)
would otherwise print a traceback from the middle of an import, and a SIGTERM or SIGHUP end it
silently; until the CLI's own error boundary is loaded each ends the run with one line and
exit 128 + the signal instead.
"""

import gc
import os
import sys

# numpy's OpenBLAS starts a thread per core when numpy is imported (search, the index), which
# costs a short command more than the import itself; codemem does no large matrix products.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:  # building the signal module's enums takes a moment: a Ctrl-C then is quiet too
    import contextlib
    import signal
    from types import FrameType
except KeyboardInterrupt:
    sys.stderr.write("codemem: interrupted\n")
    raise SystemExit(130) from None


_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    for stopping in _STOPPING:  # a second one must not cut this exit short
        signal.signal(stopping, signal.SIG_IGN)
    name = (
        "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    )
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) takes no line
        sys.stderr.write(f"codemem: {name}\n")
    raise SystemExit(128 + signum)


def _stop_within(error: BaseException) -> SystemExit | None:
    """The exit a stop signal raised (`_interrupted_while_loading`) that Python wrapped in
    `error`: before 3.12 whatever a class attribute's `__set_name__` raises comes out as a
    RuntimeError, so a SIGTERM while such a class was made (ipaddress's `cached_property`s,
    which pathlib imports) printed that RuntimeError's traceback (found by the fault suite)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, SystemExit):
            return cause
        cause = cause.__cause__
    return None


def _names_in_utf8() -> None:
    """Start again in Python's UTF-8 mode where the locale's codec is not UTF-8 (`LANG` in
    Latin-1 or EUC-JP, `LC_ALL=C` with `PYTHONUTF8=0`).

    codemem reads every name git lists as UTF-8 and keeps it so in the index; the system calls
    encode a name with the locale's codec. An ASCII one failed on `naïve.py` (an internal
    error in `index`, `search`, `digest`), a Latin-1 one named another file (the file
    skipped as missing). UTF-8 mode makes a name the bytes git listed, whatever the locale.
    """
    if os.name != "posix" or sys.flags.utf8_mode:
        return
    import codecs

    if codecs.lookup(sys.getfilesystemencoding()).name == "utf-8":
        return
    with contextlib.suppress(OSError):  # no interpreter to start: go on as we are
        sys.stdout.flush()
        os.execv(
            sys.executable,
            [sys.executable, "-X", "utf8", "-X", _TERMINAL_CODEC, *sys.orig_argv[1:]],
        )


# Marks the run `_names_in_utf8` started again: its UTF-8 mode is codemem's doing, not the user's.
_TERMINAL_CODEC = "codemem_terminal_codec"


def _escape_unencodable(error: UnicodeError) -> tuple[str, int]:
    r"""What a terminal's codec cannot show, as JSON's escapes (`\u00ef`; a character past
    U+FFFF as its surrogate pair): readable to a person, and `--json` stays JSON."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escapes = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escapes.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escapes.append(f"\\u{code:04x}")
    return "".join(escapes), error.end


def _terminal_in_its_codec() -> None:
    """Write to a terminal in the locale's codec once `_names_in_utf8` started UTF-8 mode.

    The mode is for names, not for the terminal: a Latin-1 terminal showed `naïve.py` as
    `naÃ¯ve.py`. A terminal (stdin too: what is typed there) gets the locale's codec, as
    Python gives it without the mode, and what the codec cannot show is escaped rather than
    refused (but for the C locale's ASCII, below). Pipes and files stay UTF-8: `--json`, the
    MCP server's stdio, a hook's output read by a program.
    """
    if _TERMINAL_CODEC not in sys._xoptions or os.environ.get("PYTHONIOENCODING"):
        return
    import codecs
    import locale

    # Python 3.11's `getencoding`: the locale's codec, whatever the mode (3.10 asks the C library).
    getencoding = getattr(locale, "getencoding", None)
    codec = getencoding() if getencoding else locale.nl_langinfo(locale.CODESET)
    # ASCII is the C locale's: a locale left unset rather than a terminal that shows ASCII
    # alone, which Python (UTF-8 mode) and click (its stdout) both answer with UTF-8.
    try:
        if codecs.lookup(codec).name in ("utf-8", "ascii"):
            return
    except LookupError:  # a codec Python does not know (or none named): leave UTF-8
        return
    codecs.register_error("codemem.escape", _escape_unencodable)
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # closed, or replaced
            if stream is not None and stream.isatty():
                errors = "surrogateescape" if stream is sys.stdin else "codemem.escape"
                stream.reconfigure(encoding=codec, errors=errors)  # type: ignore[union-attr]


def run() -> None:
    """Load the command line with Ctrl-C (SIGTERM, SIGHUP) quiet, then hand it the usual
    KeyboardInterrupt (`codemem.cli.interrupts`)."""
    _names_in_utf8()
    _terminal_in_its_codec()
    previous = {
        signum: signal.signal(signum, _interrupted_while_loading)
        for signum in _STOPPING
        if signal.getsignal(signum) is not signal.SIG_IGN  # `nohup`: stays ignored
    }
    # What the import makes lives as long as the process: set aside from the cyclic collector
    # rather than traversed again and again, as later heavy imports are
    # (`codemem.infra.imports_uncollected`).
    gc.disable()
    try:
        from codemem.cli import end_if_asked, main  # imported here, once the handler is in place
        from codemem.infra import set_start_up_aside, stall_for_tests
    except RuntimeError as exc:
        stop = _stop_within(exc)
        if stop is None:
            raise
        raise stop from None

    set_start_up_aside()
    gc.enable()
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    try:
        main()
    except KeyboardInterrupt:  # before click's own boundary: main's first lines, its import of
        # `cli.interrupts` (a dataclass made) after the loading handler was put back
        with contextlib.suppress(OSError):
            sys.stderr.write("codemem: interrupted\n")
        raise SystemExit(130) from None
    except SystemExit as exc:
        stall_for_tests("exit")  # the command has returned: a signal now (`after_command`)
        end_if_asked(exc.code)  # `index` and `search`: without the interpreter's teardown
        gc.unfreeze()  # the teardown finalizes everything, as it would have
        raise


if __name__ == "__main__":  # worker processes re-import this module; only run the CLI once
    run()

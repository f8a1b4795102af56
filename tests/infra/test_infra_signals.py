"""`signals_held`: a signal in a few steps that must not be cut in two runs its handler after
them, whatever thread the kernel hands it to."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

import codemem.infra.swaps as swaps_module
from codemem.infra import signals_held, update_text


@pytest.fixture
def another_thread():
    """A second thread alive, as a watcher, a server or an output reader is in codemem: the
    kernel may hand it a signal sent to the process, which blocking the signal in the main
    thread does not hold."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    yield
    done.set()
    thread.join()


@pytest.fixture
def ctrl_c():
    """SIGINT raises KeyboardInterrupt (the suite may run as a background job, which inherits
    SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_soon() -> None:
    """A Ctrl-C from another process (so the kernel picks the thread that receives it)."""
    subprocess.run(["kill", "-INT", str(os.getpid())], check=True)
    time.sleep(0.2)  # time for Python to run a handler, had it not been held


def test_a_ctrl_c_in_the_block_is_raised_after_it(another_thread, ctrl_c):
    steps = []
    with pytest.raises(KeyboardInterrupt), signals_held():
        steps.append("first")
        interrupt_soon()
        steps.append("second")
    assert steps == ["first", "second"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_what_came_is_handled_in_order_by_the_handlers_that_were_there(another_thread):
    handled = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: handled.append(signum))
        for signum in (signal.SIGTERM, signal.SIGALRM)
    }
    try:
        with signals_held((signal.SIGTERM, signal.SIGALRM)):
            os.kill(os.getpid(), signal.SIGALRM)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            assert handled == []
        assert handled == [signal.SIGALRM, signal.SIGTERM]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_an_ignored_signal_stays_ignored(another_thread):
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with signals_held():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_ctrl_c_between_the_swaps_of_a_write_loses_no_save(
    tmp_path, monkeypatch, another_thread, ctrl_c
):
    path, folder = tmp_path / "work" / "block.md", tmp_path / "local" / "swapping"
    path.parent.mkdir()
    path.write_text("base\n")
    real_exchange = swaps_module._exchange

    def save_then_ctrl_c(one, other):
        path.write_text("base\nmine\n")  # a person's save just before the swap
        monkeypatch.setattr(swaps_module, "_exchange", real_exchange)
        swapped = real_exchange(one, other)
        interrupt_soon()  # and a Ctrl-C before what was swapped out is compared
        return swapped

    monkeypatch.setattr(swaps_module, "_exchange", save_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        update_text(path, lambda text: text + "agent\n", tmp_path / "lock", folder=folder)
    assert path.read_text() == "base\nmine\n"  # swapped back, then the Ctrl-C
    assert [p.name for p in folder.iterdir() if p.name != "locks"] == []

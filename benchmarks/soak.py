"""Soak: a team's day at once on two clones of one repository, and the invariants after.

    python benchmarks/soak.py --minutes 3 --seed 1 --json-out benchmarks/results/soak.json

Two clones (A, B) of a bare remote, each with `init`, `hook install` and `watch --detach`;
in each, at the same time: a developer (edits, renames, deletions, branch switches, commits
through the hooks, `pull --rebase`, `push`, conflicts), a memory writer (`remember`,
`remember --block`, `memory set`, `digest --no-llm`, some of them killed by SIGKILL), an MCP
client (search_code, memory_read, memory_append, remember) and chaos (SIGKILL of the daemon,
restarts, `index --full`). Checked: no traceback in any output or the daemon's log, every
write reported saved is in its file or in git history, no committed conflict marker, a clean
`git status` after quiescence, the index equal to a fresh `index --full`, the daemon answers,
the clones converge, one daemon per clone, bounded files under .codemem/local/ and the socket
folder. Every memory write and git command goes on a timeline (`soak_timeline`), written
beside the JSON report; a lost write is shown there against the git commands around it.
Standard library only, plus the installed codemem.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fault_world import TIMEOUT, Codemem, Result, kill_group, last_line, traceback_summary
from soak_timeline import Timeline

QUERIES = ("func_7 Thing7", "cart total price", "revised helper")
SOCKETS = Path("/tmp") / f"codemem-{os.getuid()}"
# `git status --porcelain`'s unmerged pairs; DD, AU and UA are a rename/rename conflict (both
# clones renamed one module), which a rebase left unresolved when only the first four were
# resolved (seed 44: the rebase aborted, the clones never converged, 76 writes "lost")
UNMERGED = ("UU", "AA", "DU", "UD", "DD", "AU", "UA")
TIMELINE: Timeline | None = None  # set once the clones are ready: each git command goes on it


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class Soak:
    """Shared state: problems found, writes reported saved, commands run."""

    def __init__(self, cli: Codemem, root: Path, seed: int) -> None:
        self.cli, self.root, self.seed = cli, root, seed
        self.lock = threading.Lock()
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.saved: list[tuple[str, str, str]] = []  # (clone, where: note|block label, token)
        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self.serial = 0
        self.last_set: dict[str, str] = {}  # block label -> the value `memory set` gave last
        self.timeline = Timeline()
        self.lost: list[tuple[str, str]] = []  # (clone, token) of writes saved, then not found

    def run(self, repo: Path, *args: str, token: str | None = None) -> Result:
        """`codemem ARGS` in `repo`, on the timeline."""
        with self.timeline.span(repo.name, shlex.join(args), token) as event:
            result = self.cli.run(repo, *args)
            event["rc"], event["out"] = result.rc, result.stdout + result.stderr
        return result

    def problem(self, text: str) -> None:
        with self.lock:
            if text not in self.problems:
                self.problems.append(text)
        log(f"PROBLEM {text}")

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def token(self, kind: str) -> str:
        with self.lock:
            self.serial += 1
            return f"soak{kind}{self.serial}x{self.seed}"

    def check(self, result: Result, *, ok_codes: tuple[int, ...] = (0,)) -> bool:
        words = shlex.split(short(result))
        self.count(" ".join(words[:1] + [w for w in words[1:2] if w.startswith("-")]))
        if result.rc is None:
            self.problem(f"hang: `{short(result)}` after {TIMEOUT:g} s")
            return False
        if result.traceback:
            self.problem(
                f"traceback: `{short(result)}`: {traceback_summary(result.stderr + result.stdout)}"
            )
            return False
        if result.rc < 0:
            return False  # killed by us
        if result.rc not in ok_codes:
            with self.lock:
                self.notes.append(f"`{short(result)}` exit {result.rc}: {last_line(result.stderr)}")
            return False
        return True


def short(result: Result) -> str:
    args = result.argv
    at = args.index("--repo") + 2 if "--repo" in args else 0
    return shlex.join(a if len(a) < 60 else a[:57] + "..." for a in args[at:])


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_EDITOR": "true", "GIT_TERMINAL_PROMPT": "0"}
    span = TIMELINE.span(repo.name, shlex.join(["git", *args])) if TIMELINE else None
    with span or contextlib.nullcontext({}) as event:
        done = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=TIMEOUT, env=env
        )
        event["rc"], event["out"] = done.returncode, done.stderr + done.stdout
    if check and done.returncode:
        raise RuntimeError(f"git {' '.join(args)} in {repo.name}: {done.stderr.strip()[-500:]}")
    return done


def module(n: int, version: int) -> str:
    return (
        f'"""Module {n}: carts and prices."""\n\n\ndef func_{n}(x):\n    return x + {n}\n\n\n'
        f"class Thing{n}:\n    size = {n}\n\n\ndef revised_helper_{n}():\n    return {version}\n"
    )


def setup(soak: Soak) -> list[Path]:
    root, cli = soak.root, soak.cli
    remote, seed_repo = root / "remote.git", root / "seed"
    git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    seed_repo.mkdir()
    git(seed_repo, "init", "-q", "-b", "main")
    (seed_repo / "pkg").mkdir()
    for n in range(60):
        (seed_repo / "pkg" / f"mod{n}.py").write_text(module(n, 0))
    (seed_repo / "README.md").write_text("# Shop\n\nCarts, prices and modules.\n")
    clones = []
    for name in ("A", "B"):
        repo = root / name
        if name == "A":
            git(seed_repo, "config", "user.email", "seed@example.com")
            git(seed_repo, "config", "user.name", "Seed")
            git(seed_repo, "add", "-A")
            git(seed_repo, "commit", "-qm", "Add the modules")
            git(seed_repo, "push", "-q", str(remote), "main")
        git(root, "clone", "-q", str(remote), str(repo))
        git(repo, "config", "user.email", f"{name.lower()}@example.com")
        git(repo, "config", "user.name", f"Dev {name}")
        git(repo, "config", "pull.rebase", "true")
        for args in (
            ("init",),
            ("hook", "install"),
            ("memory", "create", "soak", "--description", "Soak.", "--limit", "200000"),
        ):
            result = cli.run(repo, *args)
            if name == "B" and args[0] == "memory" and result.rc:
                continue  # A's block came with the pull
            if result.rc or result.traceback:
                raise RuntimeError(f"setup {name}: `{short(result)}`: {result.stderr[-1500:]}")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"codemem in {name}", check=False)
        git(repo, "pull", "-q", "--rebase", check=False)
        git(repo, "push", "-q", "origin", "HEAD:main")
        clones.append(repo)
    git(clones[0], "pull", "-q", "--rebase")
    for repo in clones:
        start_daemon(soak, repo)
    return clones


def start_daemon(soak: Soak, repo: Path) -> None:
    result = soak.run(repo, "watch", "--detach", "--idle", "0.2")
    soak.check(result)


def daemon_pid(repo: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((repo / ".codemem" / "local" / "watch.pid").read_text().split()[0])
    return None


def watch_processes(repo: Path) -> list[int]:
    """Live processes running `watch` for `repo` (from /proc; a zombie has no command line)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if is_daemon(command_line(pid), repo)]


def command_line(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def is_daemon(argv: list[bytes], repo: Path) -> bool:
    asks = {b"--stop", b"--status"} & set(argv)  # a command asking the daemon, not the daemon
    return b"watch" in argv and not asks and str(repo).encode() in argv


def resolve_conflicts(soak: Soak, repo: Path, name: str) -> None:
    """A rebase stopped on a conflict: take the upstream side for sources, note .codemem ones."""
    for _ in range(20):
        state = git(repo, "status", "--porcelain", check=False).stdout
        conflicted = [line[3:] for line in state.splitlines() if line[:2] in UNMERGED]
        if not conflicted and not (repo / ".git" / "rebase-merge").exists():
            return
        for path in conflicted:
            if path.startswith(".codemem/"):
                soak.problem(f"{name}: merge driver left a conflict in {path}")
                soak.count("conflict .codemem")
            else:
                soak.count("conflict source")
            # During a rebase "ours" is upstream: keep it (what is already pushed).
            if git(repo, "checkout", "--ours", "--", path, check=False).returncode:
                git(repo, "rm", "-q", "--", path, check=False)
            else:
                git(repo, "add", "--", path, check=False)
        done = git(repo, "-c", "core.hooksPath=/dev/null", "rebase", "--continue", check=False)
        if done.returncode and "nothing to commit" in (done.stdout + done.stderr):
            git(repo, "rebase", "--skip", check=False)
    git(repo, "rebase", "--abort", check=False)
    soak.problem(f"{name}: could not finish a rebase")


def developer(soak: Soak, repo: Path, rng: random.Random) -> None:
    name = repo.name
    while not soak.stop.is_set():
        action = rng.choice(
            ["edit"] * 6 + ["rename", "delete", "add", "branch", "commit", "commit", "sync"]
        )
        pkg = repo / "pkg"
        files = sorted(p for p in pkg.glob("*.py"))
        try:
            if action == "edit" and files:
                path = rng.choice(files[:10])  # a few hot files: the clones conflict
                path.write_text(module(rng.randrange(1000), rng.randrange(10**6)))
            elif action == "rename" and files:
                src = rng.choice(files)
                src.rename(pkg / f"{src.stem}_{name.lower()}{rng.randrange(100)}.py")
            elif action == "delete" and len(files) > 40:
                rng.choice(files).unlink()
            elif action == "add":
                (pkg / f"new_{name.lower()}{rng.randrange(10**4)}.py").write_text(
                    module(rng.randrange(1000), 1)
                )
            elif action == "branch":
                branch = f"topic-{name}-{rng.randrange(10**4)}"
                git(repo, "add", "-A")
                git(repo, "commit", "-qm", "Work in progress on prices", check=False)
                git(repo, "checkout", "-q", "-b", branch)
                (pkg / f"topic_{rng.randrange(10**4)}.py").write_text(module(1, 2))
                time.sleep(rng.uniform(0, 2))
                # The memory writers write the `soak` block every second or so, and the first
                # commit's review takes seconds: git then refuses to switch over a block edited
                # since `add` ("Your local changes ... would be overwritten"), as it should.
                # Again, without the review (it ran once), the window is milliseconds long.
                refusals = []
                hooks: tuple[str, ...] = ()
                for _ in range(5):
                    git(repo, "add", "-A")
                    git(repo, *hooks, "commit", "-qm", "Try a topic idea", check=False)
                    switched = git(repo, "checkout", "-q", "main", check=False)
                    if not switched.returncode:
                        break
                    refusals.append(switched.stderr.strip()[-400:])
                    hooks = ("-c", "core.hooksPath=/dev/null")
                else:
                    soak.problem(f"{name}: `git checkout main` refused 5 times: {refusals[-1]}")
                    soak.notes.extend(f"{name} checkout main: {text}" for text in refusals)
                merge_topic(soak, repo, branch)
            elif action == "commit":
                git(repo, "add", "-A")
                done = git(repo, "commit", "-qm", f"Revise prices in {name}", check=False)
                if "Traceback" in done.stderr + done.stdout:
                    soak.problem(f"{name}: traceback in a hook: {last_line(done.stderr)}")
                soak.count("commit" if done.returncode == 0 else "commit refused")
            elif action == "sync":
                sync(soak, repo)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            soak.notes.append(f"{name} developer {action}: {error}")
        time.sleep(rng.uniform(0.2, 1.5))


def merge_topic(soak: Soak, repo: Path, branch: str) -> None:
    """Merge the topic branch back, as a developer would: the memory writers edit the `soak`
    block on main between the checkout and the merge, and git rightly refuses to merge over
    it ("Your local changes ... would be overwritten"); a merge given up there left the
    writes committed on the topic branch out of main, reported as lost (seed 44). So the
    edit is committed and the merge tried again."""
    refusals = []
    for _ in range(5):
        merged = git(repo, "merge", "-q", "--no-edit", branch, check=False)
        if not merged.returncode:
            git(repo, "branch", "-q", "-d", branch)
            return
        refusals.append(merged.stderr.strip()[-400:])
        if "would be overwritten" not in merged.stderr:  # anything else: noted, as before
            soak.notes.append(f"{repo.name} merge {branch}: {refusals[-1]}")
            return
        git(repo, "add", "-A")
        git(
            repo,
            "-c",
            "core.hooksPath=/dev/null",
            "commit",
            "-qm",
            "Sync before a merge",
            check=False,
        )
    soak.problem(f"{repo.name}: `git merge {branch}` refused 5 times: {refusals[-1]}")
    soak.notes.extend(f"{repo.name} merge {branch}: {text}" for text in refusals)


def sync(soak: Soak, repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Sync {repo.name}", check=False)
    pulled = git(repo, "pull", "-q", "--rebase", check=False)
    if "Traceback" in pulled.stderr + pulled.stdout:
        soak.problem(f"{repo.name}: traceback in pull: {last_line(pulled.stderr)}")
    if pulled.returncode:
        resolve_conflicts(soak, repo, repo.name)
    git(repo, "push", "-q", "origin", "HEAD:main", check=False)
    soak.count("sync")


def memory_writer(soak: Soak, repo: Path, rng: random.Random) -> None:
    cli = soak.cli
    run = soak.run
    while not soak.stop.is_set():
        choice = rng.choice(["note", "note", "block", "block", "set", "digest", "kill"])
        if choice == "note":
            token = soak.token("note")
            result = run(
                repo, "remember", f"{token}: the prices module rounds to cents", token=token
            )
            if soak.check(result):
                soak.saved.append((repo.name, "note", token))
        elif choice == "block":
            token = soak.token("blk")
            if soak.check(run(repo, "remember", "--block", "soak", f"{token} fact", token=token)):
                soak.saved.append((repo.name, "soak", token))
        elif choice == "set":
            token = soak.token("set")
            label = f"set{repo.name.lower()}"
            result = run(repo, "memory", "set", label, "--value", f"{token} value", token=token)
            if result.rc and "unknown block" in result.stderr:
                run(repo, "memory", "create", label, "--description", "Set.")
                result = run(repo, "memory", "set", label, "--value", f"{token} value", token=token)
            if soak.check(result):
                soak.last_set[label] = token  # each set replaces the last: only it must stay
        elif choice == "digest":
            soak.check(run(repo, "digest", "--no-llm"))
        else:
            args = rng.choice(
                [
                    ("index", "--full"),
                    ("remember", f"{soak.token('killed')} note"),
                    ("digest", "--no-llm"),
                ]
            )
            with soak.timeline.span(repo.name, shlex.join(["kill -9:", *args])) as event:
                proc = cli.start(repo, *args)
                time.sleep(rng.uniform(0.05, 1.5))
                kill_group(proc.pid)
                out, err = proc.communicate()
                event["rc"], event["out"] = proc.returncode, out + err
            soak.check(Result(cli.argv(repo, args), proc.returncode, out, err, 0.0))
            soak.count("kill -9 cli")
        time.sleep(rng.uniform(0.1, 1.0))


class McpClient:
    """`codemem mcp` driven over stdio, one request at a time."""

    def __init__(self, soak: Soak, repo: Path) -> None:
        self.soak, self.repo, self.serial, self.stderr = soak, repo, 0, ""
        self.proc = subprocess.Popen(
            soak.cli.argv(repo, ["mcp"]),
            env=soak.cli.env,
            errors="replace",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    @staticmethod
    def spawn(soak: Soak, repo: Path) -> McpClient:
        client = McpClient(soak, repo)
        client.request(
            "initialize",
            {
                "protocolVersion": "2024-11-05",
                "capabilities": {},
                "clientInfo": {"name": "soak", "version": "1"},
            },
        )
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return client

    def _drain(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, message: dict) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict | None:
        self.serial += 1
        self.send({"jsonrpc": "2.0", "id": self.serial, "method": method, "params": params})
        assert self.proc.stdout
        while True:
            line = self.proc.stdout.readline()  # the server answers in order
            if not line:
                return None
            reply = json.loads(line)
            if reply.get("id") == self.serial:
                return reply

    def call(self, tool: str, **arguments) -> tuple[bool, str]:
        reply = self.request("tools/call", {"name": tool, "arguments": arguments})
        if reply is None:
            return False, "server gone"
        if "error" in reply:
            return False, json.dumps(reply["error"])
        result = reply["result"]
        text = "".join(c.get("text", "") for c in result.get("content", []))
        return not result.get("isError"), text

    def close(self, kill: bool = False) -> None:
        if kill:
            kill_group(self.proc.pid)
        else:
            with contextlib.suppress(OSError):
                assert self.proc.stdin
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.soak.problem(f"{self.repo.name}: mcp did not exit on end of input")
            kill_group(self.proc.pid)
            self.proc.wait()
        time.sleep(0.2)
        if "Traceback" in getattr(self, "stderr", ""):
            self.soak.problem(f"{self.repo.name}: mcp stderr: {traceback_summary(self.stderr)}")


def mcp_loop(soak: Soak, repo: Path, rng: random.Random) -> None:
    client = McpClient.spawn(soak, repo)
    try:
        while not soak.stop.is_set():
            choice = rng.choice(["search", "search", "read", "append", "note", "restart"])
            try:
                if choice == "search":
                    ok, text = client.call("search_code", query=rng.choice(QUERIES))
                elif choice == "read":
                    ok, text = client.call("memory_read", label="soak")
                elif choice == "append":
                    token = soak.token("mcpblk")
                    with soak.timeline.span(repo.name, "mcp memory_append soak", token) as event:
                        ok, text = client.call(
                            "memory_append", label="soak", content=f"{token} fact"
                        )
                        event["rc"], event["out"] = int(not ok), text
                    if ok:
                        soak.saved.append((repo.name, "soak", token))
                elif choice == "note":
                    token = soak.token("mcpnote")
                    with soak.timeline.span(repo.name, "mcp remember", token) as event:
                        ok, text = client.call(
                            "remember", text=f"{token}: carts expire after a day"
                        )
                        event["rc"], event["out"] = int(not ok), text
                    if ok:
                        soak.saved.append((repo.name, "note", token))
                else:
                    client.close(kill=rng.random() < 0.5)
                    client = McpClient.spawn(soak, repo)
                    soak.count("mcp restart")
                    continue
            except (OSError, ValueError) as error:
                soak.problem(f"{repo.name}: mcp {choice}: {error!r}")
                client.close(kill=True)
                client = McpClient.spawn(soak, repo)
                continue
            soak.count(f"mcp {choice}" + ("" if ok else " refused"))
            if not ok and "Traceback" in text:
                soak.problem(f"{repo.name}: mcp {choice}: {text[-300:]}")
            if not ok:
                soak.notes.append(f"{repo.name} mcp {choice}: {text[:200]}")
            time.sleep(rng.uniform(0.1, 0.8))
    finally:
        client.close()


def chaos(soak: Soak, repos: list[Path], rng: random.Random) -> None:
    while not soak.stop.wait(rng.uniform(5, 15)):
        repo = rng.choice(repos)
        choice = rng.choice(["kill daemon", "restart daemon", "index --full", "status"])
        if choice == "kill daemon":
            pid = daemon_pid(repo)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                time.sleep(rng.uniform(0, 3))
            start_daemon(soak, repo)
        elif choice == "restart daemon":
            soak.check(soak.run(repo, "watch", "--stop"))
            start_daemon(soak, repo)
        elif choice == "index --full":
            soak.check(soak.run(repo, "index", "--full"))
        else:
            soak.check(soak.run(repo, "status", "--json"))
        soak.count(choice)
        sample_growth(soak, repos)


def folder_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
    return len(files), sum(p.stat().st_size for p in files if p.exists())


def sample_growth(soak: Soak, repos: list[Path]) -> None:
    with soak.lock:
        samples = soak.counts.setdefault("_growth", [])  # type: ignore[arg-type]
        samples.append(  # type: ignore[attr-defined]
            {r.name: folder_size(r / ".codemem" / "local") for r in repos}
            | {"sockets": len(list(SOCKETS.glob("*"))) if SOCKETS.exists() else 0}
        )


def quiesce_and_check(soak: Soak, repos: list[Path]) -> dict:
    cli = soak.cli
    final: dict = {}
    a = repos[0]
    for repo in repos:  # the daemons must be up and answering after all the kills
        if not watch_processes(repo):
            start_daemon(soak, repo)
    for _ in range(3):  # converge; the daemons digest what they pulled, which is committed
        for repo in repos:
            sync(soak, repo)
        time.sleep(20)  # longer than --idle 0.2
    for repo in repos:
        sync(soak, repo)
    heads = [git(r, "rev-parse", "HEAD").stdout.strip() for r in repos]
    if heads[0] != heads[1]:
        soak.problem(f"clones did not converge: A {heads[0][:8]} B {heads[1][:8]}")
    for repo in repos:
        name = repo.name
        for check in (
            git(repo, "status", "--porcelain", check=False).stdout,
            git(repo, "diff", "HEAD", "--stat", check=False).stdout,
        ):
            if check.strip():
                soak.problem(f"{name}: not clean after sync: {check.strip()[:300]}")
                break
        time.sleep(20)  # the daemon sees the last pull, indexes, maybe digests
        soak.check(cli.run(repo, "index"))
        churn = git(repo, "status", "--porcelain", check=False).stdout.strip()
        if churn:
            soak.problem(f"{name}: codemem churn with nothing changed: {churn[:300]}")
        status = cli.run(repo, "watch", "--status", "--json")
        if soak.check(status) and '"running": true' not in status.stdout.replace(" ", " "):
            with contextlib.suppress(ValueError):
                if not json.loads(status.stdout).get("running"):
                    soak.problem(f"{name}: daemon not running at the end: {status.stdout[:200]}")
        daemons = watch_processes(repo)
        if len(daemons) != 1:
            soak.problem(f"{name}: {len(daemons)} watch processes at the end: {daemons}")
        before = {q: cli.run(repo, "search", "--json", "-k", "5", q).stdout for q in QUERIES}
        status_before = cli.run(repo, "status", "--json").stdout
        soak.check(cli.run(repo, "index", "--full"))
        after = {q: cli.run(repo, "search", "--json", "-k", "5", q).stdout for q in QUERIES}
        for q in QUERIES:
            if paths(before[q]) != paths(after[q]):
                soak.problem(
                    f"{name}: search {q!r} differs from a fresh index: {paths(before[q])} vs {paths(after[q])}"
                )
        status_after = cli.run(repo, "status", "--json").stdout
        if counts_of(status_before) != counts_of(status_after):
            soak.problem(
                f"{name}: status differs from a fresh index: {counts_of(status_before)} vs {counts_of(status_after)}"
            )
        log_file = repo / ".codemem" / "local" / "watch.log"
        text = log_file.read_text(errors="replace") if log_file.exists() else ""
        if "Traceback" in text:
            soak.problem(f"{name}: traceback in watch.log: {traceback_summary(text)}")
        final[name] = {"head": heads[repos.index(repo)], "daemons": daemons}
    check_saved(soak, repos)
    check_markers(soak, a)
    return final


def paths(stdout: str) -> list[str] | None:
    try:
        return [item["path"] for item in json.loads(stdout)]
    except (ValueError, KeyError, TypeError):
        return None


def counts_of(stdout: str) -> object:
    try:
        data = json.loads(stdout)
    except ValueError:
        return stdout[:200]
    keep = ("files", "chunks", "symbols", "languages", "stale", "problems")
    return {k: data[k] for k in keep if k in data}


def check_saved(soak: Soak, repos: list[Path]) -> None:
    """Each write reported saved is in the first clone's files (a block) or history (a note);
    one that is not, but is in the clone that saved it, is not lost: the clones did not
    converge (that is its own problem), and they are counted in one line."""
    repo = repos[0]
    history = git(repo, "log", "-p", "--all", "--", ".codemem/").stdout
    notes = soak.cli.run(repo, "recall", "--archive", "--json", "-k", "1000", "soak")
    kept = {r.name: memory_text(r) for r in repos if r != repo}
    elsewhere: list[str] = []
    for clone, where, token in soak.saved:
        if where == "note":
            if token in notes.stdout or token in history:
                continue
        else:
            block = repo / ".codemem" / "blocks" / f"{where}.md"
            if block.exists() and token in block.read_text(errors="replace"):
                continue
        if token in kept.get(clone, ""):
            elsewhere.append(token)
            continue
        soak.problem(f"write lost: {token} ({where}, saved in {clone})")
        soak.lost.append((clone, token))
    if elsewhere:
        soak.problem(
            f"{len(elsewhere)} writes are in the clone that saved them, not in {repo.name} "
            f"(not converged): {', '.join(elsewhere[:5])}{' ...' if len(elsewhere) > 5 else ''}"
        )
    for label, token in soak.last_set.items():
        block = repo / ".codemem" / "blocks" / f"{label}.md"
        if not block.exists() or token not in block.read_text(errors="replace"):
            soak.problem(f"write lost: the last `memory set {label}` ({token})")
            soak.lost.append((label[-1].upper(), token))  # seta: clone A's


def memory_text(repo: Path) -> str:
    """All `repo` holds of memory: `.codemem/` in every commit its reflog names too, and its
    files now."""
    text = git(repo, "log", "-p", "--all", "--reflog", "--", ".codemem/", check=False).stdout
    files = (p for p in (repo / ".codemem").rglob("*") if "local" not in p.parts and p.is_file())
    return text + "".join(p.read_text(errors="replace") for p in files)


def check_markers(soak: Soak, repo: Path) -> None:
    for commit in git(repo, "rev-list", "--all").stdout.split():
        found = git(repo, "grep", "-l", "-E", "^(<<<<<<<|>>>>>>>) ", commit, check=False).stdout
        if found.strip():
            soak.problem(f"conflict markers committed in {commit[:8]}: {found.strip()[:200]}")
            break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--codemem", help="the codemem command (default: the installed one)")
    parser.add_argument("--work", type=Path, default=Path("/work/scratch/soak"))
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    root = args.work / f"seed{args.seed}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cli = Codemem(root / "home", shlex.split(args.codemem) if args.codemem else None)
    soak = Soak(cli, root, args.seed)
    started = time.monotonic()
    sockets_before = len(list(SOCKETS.glob("*"))) if SOCKETS.exists() else 0
    repos = setup(soak)
    global TIMELINE
    TIMELINE = soak.timeline
    log(f"soak: clones ready in {time.monotonic() - started:.0f} s; running {args.minutes} min")
    threads = []
    for n, repo in enumerate(repos):
        for loop in (developer, memory_writer, mcp_loop):
            rng = random.Random(f"{args.seed}:{loop.__name__}:{n}")
            name = f"{loop.__name__}-{repo.name}"
            threads.append(
                threading.Thread(target=loop, args=(soak, repo, rng), daemon=True, name=name)
            )
    threads.append(
        threading.Thread(
            target=chaos, args=(soak, repos, random.Random(args.seed)), daemon=True, name="chaos"
        )
    )
    for thread in threads:
        thread.start()
    soak.stop.wait(args.minutes * 60)
    soak.stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    log("soak: quiescing and checking")
    final = quiesce_and_check(soak, repos)
    for repo in repos:
        soak.check(cli.run(repo, "watch", "--stop"))
        time.sleep(1)
        if watch_processes(repo):
            soak.problem(f"{repo.name}: watch still running after --stop")
    sockets_after = len(list(SOCKETS.glob("*"))) if SOCKETS.exists() else 0
    growth = soak.counts.pop("_growth", [])
    out = args.json_out or root / "soak.json"
    timeline = out.with_name(out.stem + ".timeline.jsonl")
    soak.timeline.write(timeline)
    report = {
        "meta": {"argv": sys.argv, "seed": args.seed, "minutes": args.minutes},
        "seconds": round(time.monotonic() - started, 1),
        "counts": soak.counts,
        "saved_writes": len(soak.saved),
        "growth": growth,
        "sockets": [sockets_before, sockets_after],
        "final": final,
        "problems": soak.problems,
        "lost_writes": [
            soak.timeline.lost_write(root / clone, token) for clone, token in soak.lost
        ],
        "timeline": str(timeline),
        "notes": soak.notes[:200],
    }
    text = json.dumps(report, indent=2)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text)
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "seconds",
                    "counts",
                    "saved_writes",
                    "problems",
                    "lost_writes",
                    "timeline",
                )
            },
            indent=2,
        )
    )
    return 1 if soak.problems else 0


if __name__ == "__main__":
    sys.exit(main())

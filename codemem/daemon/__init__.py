"""`codemem watch`: the daemon that keeps the index fresh and digests when the repository rests.

- `watch.Watcher(ws, config).run()`: the loop (file events, re-index, idle digest).
- `process`: one daemon per repository (lock, pid, status file, log, start and stop).
- `events`: the debouncer, the path filter and the file-system observer.
- `query_server` / `query_client.ask_daemon`: `codemem search` answered over a Unix socket.
- `lifeline` (and `fork_server_guard`): every process the daemon starts dies with it.

This file imports nothing, so `codemem search` can load the light client alone.
"""

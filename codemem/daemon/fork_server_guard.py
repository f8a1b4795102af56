"""Imported only inside the multiprocessing fork server of the watch daemon or the MCP server,
as a preload module (see `lifeline`): the fork server dies with its parent, and every worker
it forks with the fork server.

Importing it anywhere else would tie that process's life to its parent's: nothing else
imports it.
"""

from __future__ import annotations

import os

from codemem.daemon.lifeline import die_with_parent, kill_children_with

die_with_parent(os.getppid())
kill_children_with(os.getpid())

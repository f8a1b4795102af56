"""Imported only inside the watch daemon's multiprocessing fork server, as a preload module
(see `lifeline`): the server dies with the daemon, and every worker it forks with the server.

Importing it anywhere else would tie that process's life to its parent's: nothing else
imports it.
"""

from __future__ import annotations

import os

from codemem.daemon.lifeline import die_with_parent, kill_children_with

die_with_parent(os.getppid())
kill_children_with(os.getpid())

"""Opening the LanceDB database under `.codemem/local/index/`.

`import lancedb` costs about a second, most of it in the generated REST-namespace client
that codemem never uses; the import is therefore lazy, and the client package is loaded
without running its eager `__init__` (its submodules still import normally on demand).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

_SKIPPED_INIT = "lance_namespace_urllib3_client"


def import_lancedb() -> Any:
    """Import lancedb, skipping the eager import of its REST client package."""
    if "lancedb" in sys.modules:
        return sys.modules["lancedb"]
    stubbed = False
    if _SKIPPED_INIT not in sys.modules:
        spec = importlib.util.find_spec(_SKIPPED_INIT)
        if spec is not None and spec.submodule_search_locations:
            package = types.ModuleType(_SKIPPED_INIT)
            package.__path__ = list(spec.submodule_search_locations)
            package.__spec__ = spec
            package.__file__ = spec.origin
            sys.modules[_SKIPPED_INIT] = package
            stubbed = True
    try:
        import lancedb
    except ImportError:
        if not stubbed:
            raise
        # A lancedb version that needs the whole client: import it the ordinary way.
        for name in [m for m in sys.modules if m.startswith((_SKIPPED_INIT, "lance_namespace", "lancedb"))]:
            del sys.modules[name]
        import lancedb
    return lancedb


def connect(index_dir: Path) -> Any:
    """A LanceDB connection to `index_dir` (created if missing)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return import_lancedb().connect(str(index_dir))

"""Importing LanceDB the fast way leaves a process as an ordinary import would (fresh processes)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codemem.code.lancedb_loading import stands_in_for_pydantic

ROOT = Path(__file__).resolve().parents[2]
# lancedb requires the `overrides` package only below Python 3.12 (`typing.override` after)
needs_overrides = pytest.mark.skipif(
    importlib.util.find_spec("overrides") is None,
    reason="the overrides package is installed with lancedb only below Python 3.12",
)


def run(code: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout


@needs_overrides
def test_lancedb_imports_without_the_overrides_stand_in_left_behind_and_works(tmp_path):
    out = run(
        """
        import sys
        from pathlib import Path
        from codemem.code import store

        store.import_lancedb()
        print("overrides" in sys.modules, "lance_namespace_urllib3_client.api" in sys.modules)
        from pydantic import BaseModel
        import lance_namespace

        home = "lance_namespace_urllib3_client.models.list_tables_response"
        loaded = home in sys.modules
        answer = lance_namespace.ListTablesResponse.model_validate({"tables": ["t"]})
        made = lance_namespace.ListTablesResponse(tables=["u"])
        real = sys.modules[home].ListTablesResponse
        print(BaseModel.model_config, loaded, answer.tables, made.tables, type(made) is real)
        print(isinstance(made, lance_namespace.ListTablesResponse), real.__pydantic_complete__)
        import overrides  # anyone importing it later gets the real package

        print(Path(overrides.__file__).parent.name, hasattr(overrides, "EnforceOverrides"))
        import pyarrow as pa

        db = store.CodeStore(Path(sys.argv[1]))
        row = {"path": "a.py", "language": "python"}
        db.table("files").add(pa.Table.from_pylist([row], schema=store.files_schema()))
        print([r["path"] for r in db.all_rows("files")])
        """,
        tmp_path,
    )
    # The REST client's models that lance_namespace names are imported when first used, then
    # validate and construct as usual; later models are not touched.
    assert out == ("False False\n{} False ['t'] ['u'] True\nTrue True\noverrides True\n['a.py']\n")


@needs_overrides
def test_a_process_that_loaded_overrides_keeps_it(tmp_path):
    out = run(
        """
        import sys
        import overrides
        from codemem.code import store

        store.import_lancedb()
        print(sys.modules["overrides"] is overrides, sys.modules["lancedb"].__name__)
        """,
        tmp_path,
    )
    assert out == "True lancedb\n"


def test_the_collector_is_off_only_during_the_import(tmp_path):
    out = run(
        """
        import gc
        from codemem.code import store

        start = gc.get_freeze_count()  # not 0 on Python 3.12: its own
        store.import_lancedb()
        print(gc.isenabled(), gc.get_freeze_count() - start)
        """,
        tmp_path,
    )
    # A process that set its start-up aside (the console entry) sets the import's objects
    # aside too; what comes after is collected as ever.
    set_aside = run(
        """
        import gc
        from codemem.code import store
        from codemem.infra import set_start_up_aside

        set_start_up_aside()
        before = gc.get_freeze_count()
        store.import_lancedb()
        print(gc.isenabled(), gc.get_freeze_count() - before > 10_000)
        cycle = []
        cycle.append(cycle)
        del cycle
        print(gc.collect() >= 1)
        """,
        tmp_path,
    )
    kept_off = run(
        """
        import gc
        from codemem.code import store

        gc.disable()
        store.import_lancedb()
        print(gc.isenabled())
        """,
        tmp_path,
    )
    assert (out, set_aside, kept_off) == ("True 0\n", "True True\nTrue\n", "False\n")


def test_lancedbs_pydantic_dataclasses_are_built_when_first_used(tmp_path):
    out = run(
        """
        import pydantic
        import pydantic.dataclasses
        from codemem.code import store

        real = pydantic.dataclasses.dataclass
        store.import_lancedb()
        from lancedb.query import MatchQuery

        print(pydantic.dataclasses.dataclass is real, MatchQuery.__pydantic_complete__)
        query = MatchQuery("needle", "text", boost=2)
        print(MatchQuery.__pydantic_complete__, query.query, query.boost, query.fuzziness)
        try:
            MatchQuery("needle", "text", fuzziness="many")
        except pydantic.ValidationError as exc:
            print(exc.errors()[0]["loc"])

        @pydantic.dataclasses.dataclass
        class Later:
            n: int

        print(Later.__pydantic_complete__, Later(n="3").n)
        """,
        tmp_path,
    )
    # Built on first use, then they validate as usual; later dataclasses are built at once.
    assert out == "True False\nTrue needle 2.0 0\n('fuzziness',)\nTrue 3\n"


def test_pyarrow_compute_loaded_with_lancedb_has_its_usual_help(tmp_path):
    code = """
        from pyarrow.vendored import docscrape

        real = docscrape.NumpyDocString
        if WITH_LANCEDB:
            from codemem.code import store

            store.import_lancedb()
        import pyarrow as pa
        import pyarrow.compute as pc

        print(docscrape.NumpyDocString is real, pc.count_distinct(pa.array([1, 1, 2])).as_py())
        print(pc.count.__doc__ + pc.cast.__doc__ + pc.utf8_slice_codeunits.__doc__)
        """
    fast = run(code.replace("WITH_LANCEDB", "True"), tmp_path)
    plain = run(code.replace("WITH_LANCEDB", "False"), tmp_path)
    assert fast == plain
    assert fast.startswith("True 2\n") and 'mode : str, default "only_valid"' in fast


def test_the_models_lancedb_takes_from_their_modules_are_imported_when_first_used(tmp_path):
    out = run(
        """
        import sys
        import pyarrow as pa
        from codemem.code import store

        def loaded():
            prefix = "lance_namespace_urllib3_client.models."
            return sorted(m[len(prefix) :] for m in sys.modules if m.startswith(prefix))

        store.import_lancedb()
        print(loaded())
        import lancedb.namespace as namespace

        schema = namespace._convert_pyarrow_schema_to_json(pa.schema([("a", pa.string())]))
        print(type(schema).__name__, schema.fields[0].name, schema.fields[0].type.type)
        print(isinstance(schema, namespace.JsonArrowSchema), loaded())
        from lance_namespace_urllib3_client.models.json_arrow_field import JsonArrowField

        print(JsonArrowField is type(schema.fields[0]), JsonArrowField.__pydantic_complete__)
        """,
        tmp_path,
    )
    # None is loaded by the import; the first use loads the real ones (and what they import).
    assert out == (
        "[]\nJsonArrowSchema a utf8\n"
        "True ['json_arrow_data_type', 'json_arrow_field', 'json_arrow_schema']\nTrue True\n"
    )


def test_lancedbs_embedding_providers_load_when_one_is_asked_for(tmp_path):
    out = run(
        """
        import sys
        from codemem.code import store

        store.import_lancedb()
        import lancedb.embeddings as embeddings

        print("lancedb.embeddings.openai" in sys.modules, "tqdm" in sys.modules)
        registry = embeddings.get_registry()
        print(registry is embeddings.EmbeddingFunctionRegistry.get_instance())
        print(embeddings.OpenAIEmbeddings.__name__, registry.get("openai").__name__)
        from lancedb.embeddings import SentenceTransformerEmbeddings

        print(SentenceTransformerEmbeddings.__module__, hasattr(embeddings, "no_such_name"))
        """,
        tmp_path,
    )
    assert out == (
        "False False\nTrue\nOpenAIEmbeddings OpenAIEmbeddings\n"
        "lancedb.embeddings.sentence_transformers False\n"
    )


def test_lancedb_knows_its_version_without_loading_the_metadata_machinery(tmp_path):
    out = run(
        """
        import importlib
        import sys
        from codemem.code import store

        lancedb = store.import_lancedb()
        print("importlib.metadata" in sys.modules, hasattr(importlib, "metadata"))
        import importlib.metadata

        print(lancedb.__version__ == importlib.metadata.version("lancedb"))
        print(importlib.metadata.version("pyarrow") == __import__("pyarrow").__version__)
        """,
        tmp_path,
    )
    # Nothing of the stand-in is left: a later import gets the real module.
    assert out == "False False\nTrue\nTrue\n"


def test_a_process_that_loaded_the_metadata_machinery_keeps_it(tmp_path):
    out = run(
        """
        import importlib.metadata
        import sys
        from codemem.code import store

        real = importlib.metadata
        lancedb = store.import_lancedb()
        print(sys.modules["importlib.metadata"] is real, importlib.metadata is real)
        print(lancedb.__version__ == real.version("lancedb"))
        """,
        tmp_path,
    )
    assert out == "True True\nTrue\n"


def test_the_http_client_lancedb_imports_is_loaded_when_first_used(tmp_path):
    out = run(
        """
        import sys
        from codemem.code import store

        store.import_lancedb()
        print("urllib.request" in sys.modules, "http.client" in sys.modules)
        import lancedb.embeddings.utils as utils

        urlopen = utils.urllib.request.urlopen  # through the stand-in lancedb bound
        import urllib.request

        print(urlopen is urllib.request.urlopen, sys.modules["urllib.request"] is urllib.request)
        """,
        tmp_path,
    )
    assert out == "False False\nTrue True\n"


def test_lancedb_loads_without_pydantic_and_a_later_import_gets_the_real_one(tmp_path):
    out = run(
        """
        import sys
        from pathlib import Path
        import numpy as np
        import pyarrow as pa
        from codemem.code import store

        store.warm_up()
        print(any(m.startswith("pydantic") for m in sys.modules))
        db = store.CodeStore(Path(sys.argv[1]), dimensions=2)
        row = {"id": "1", "path": "a.py", "vector": [1.0, 0.0]}
        db.table("chunks").add(pa.Table.from_pylist([row], schema=store.chunks_schema(2)))
        db.table("files").add(pa.Table.from_pylist([{"path": "a.py"}], schema=store.files_schema()))
        db.ensure_scalar()
        db.maintain()
        nearest = db.nearest_chunks(np.array([1.0, 0.0], dtype=np.float32), 1)
        print([r["path"] for r in db.all_rows("files")], nearest[0]["id"])
        print(store.probe_tables(Path(sys.argv[1]), {"files": 1, "chunks": 1}))
        import pydantic

        class Point(pydantic.BaseModel):
            x: int

        print(pydantic.BaseModel.__module__, Point.model_validate({"x": "3"}).x)
        """,
        tmp_path,
    )
    # LanceDB's reads build their query without pydantic; nothing of the stand-in is left.
    loaded = not stands_in_for_pydantic()  # a release the stand-in was not checked against
    assert out == f"{loaded}\n['a.py'] 1\nNone\npydantic.main 3\n"


def test_a_process_that_loaded_pydantic_keeps_it_for_lancedb(tmp_path):
    out = run(
        """
        import pydantic
        from codemem.code import store

        store.import_lancedb()
        from lancedb.query import Query

        print(issubclass(Query, pydantic.BaseModel), Query(limit="3").limit)
        """,
        tmp_path,
    )
    assert out == "True 3\n"


def test_a_lancedb_that_needs_more_of_pydantic_is_imported_the_ordinary_way(tmp_path):
    out = run(
        """
        import sys
        from pathlib import Path
        import pyarrow as pa
        from codemem.code import pydantic_stand_in, store

        made = pydantic_stand_in.stand_ins

        def lacking():  # a name lancedb takes from pydantic after its Rust core has loaded
            modules = made()
            del modules["pydantic"].conint
            return modules

        pydantic_stand_in.stand_ins = lacking
        lancedb = store.import_lancedb()
        import pydantic
        from lancedb.query import Query

        print(issubclass(Query, pydantic.BaseModel), "lancedb._lancedb" in sys.modules)
        db = store.CodeStore(Path(sys.argv[1]))
        db.table("files").add(pa.Table.from_pylist([{"path": "a.py"}], schema=store.files_schema()))
        print([r["path"] for r in db.all_rows("files")])
        """,
        tmp_path,
    )
    assert out == "True True\n['a.py']\n"


def test_pydantic_asked_for_by_others_while_lancedb_loads_is_the_real_one(tmp_path):
    out = run(
        """
        import sys
        from codemem.code import pydantic_stand_in

        with pydantic_stand_in.pydantic_stood_in():
            import pydantic  # as another thread's import would meanwhile: the stand-in

            print(pydantic.BaseModel.__module__)  # asked by a module not lancedb's
            print(sys.modules["pydantic"] is not pydantic, "pydantic.dataclasses" in sys.modules)
            from pydantic import Field

            print(Field.__module__)
        print(sys.modules["pydantic"].BaseModel is pydantic.BaseModel)
        """,
        tmp_path,
    )
    assert out == "pydantic.main\nTrue False\npydantic.fields\nTrue\n"


def test_a_lancedb_release_the_stand_in_was_not_checked_against_gets_the_real_pydantic(tmp_path):
    out = run(
        """
        import sys
        from codemem.code import lancedb_loading, store

        lancedb_loading._installed_version = lambda package: "99.0.0"
        store.import_lancedb()
        from lancedb.query import Query
        import pydantic

        print(issubclass(Query, pydantic.BaseModel), Query(limit="3").limit)
        """,
        tmp_path,
    )
    assert out == "True 3\n"


def test_the_installed_lancedb_loads_without_pydantic(tmp_path):
    # Each lancedb release is checked against the stand-in and named in CHECKED_RELEASES:
    # one that is not gets the real pydantic silently (0.41 did, 40-70 ms of every cold
    # index), so a new release fails here until it is checked.
    out = run(
        """
        import sys
        from codemem.code import lancedb_loading, store

        store.import_lancedb()
        print(lancedb_loading._installed_version("lancedb"), "pydantic" in sys.modules)
        """,
        tmp_path,
    )
    version, loaded = out.split()
    assert loaded == "False", f"lancedb {version} imported pydantic: check it against the stand-in"


def test_pyproject_caps_lancedb_below_the_first_release_not_checked():
    # A fresh install (CI, a user's pip) takes the newest release the cap allows: one the
    # stand-in was not checked against would import pydantic on every cold index.
    from codemem.code.pydantic_stand_in import CHECKED_RELEASES

    text = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    cap = re.search(r'"lancedb>=[0-9.]+,<([0-9]+)\.([0-9]+)"', text)
    assert cap is not None, "pyproject.toml must cap lancedb below an unchecked release"
    newest = max(
        tuple(int(part) for part in release.split(".")[:2]) for release in CHECKED_RELEASES
    )
    assert (int(cap[1]), int(cap[2])) == (newest[0], newest[1] + 1)


def test_a_type_adapter_lancedb_makes_after_loading_is_pydantic_s_own(tmp_path):
    out = run(
        """
        import sys
        from codemem.code import store

        store.import_lancedb()
        from lancedb.embeddings import registry

        print("pydantic" in sys.modules)
        print(registry.TypeAdapter(bool).validate_python("yes"), sys.modules["pydantic"].__file__)
        """,
        tmp_path,
    )
    loaded, validated = out.splitlines()
    assert loaded == "False"
    assert validated.startswith("True ") and validated.endswith("__init__.py")

"""The explorer's route table is the one list of its endpoints: the app, GET /api, the docs and the page agree."""

import importlib.util
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from latentworks.explore.server import ROUTES, create_app

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "latentworks" / "explore" / "static"
TABLE = [f"{r.method} {r.path}" for r in ROUTES]


def _docs_script():
    spec = importlib.util.spec_from_file_location("explore_routes", ROOT / "docs" / "explore_routes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_document_exactly_the_routes_of_the_table():
    docs = _docs_script()
    text = docs.DOC.read_text()
    documented = re.findall(r"^\| `((?:GET|POST) /api\S*)` \|", text, re.M)
    assert documented == TABLE
    assert docs.render(text) == text, "docs/explore-api.md is stale: run python docs/explore_routes.py"


def test_a_stale_docs_table_is_caught():
    docs = _docs_script()
    text = docs.DOC.read_text()
    assert docs.render(text.replace("| `POST /api/vector` |", "| `POST /api/vectors` |")) == text


def test_the_app_serves_exactly_the_table_and_get_api_lists_it(tiny_runs):
    from fastapi.testclient import TestClient

    app = create_app([tiny_runs], threads=1)
    served = [f"{m} {r.path}" for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/api")
              for m in sorted(r.methods)]
    assert served == TABLE
    listed = TestClient(app, base_url="http://127.0.0.1:8765").get("/api").json()["endpoints"]
    assert list(listed) == TABLE and all(listed.values())
    assert "`" not in listed["GET /api/runs"] and "label? | labels?" in listed["POST /api/decode"]


@pytest.mark.parametrize("script", sorted(p.name for p in STATIC.glob("*.js")))
def test_the_page_calls_only_routes_of_the_table(script):
    called = set(re.findall(r"""["'`](/api[^"'`?]*)["'`]""", (STATIC / script).read_text()))
    assert called <= {r.path for r in ROUTES}, called - {r.path for r in ROUTES}

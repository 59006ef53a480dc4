"""tools.docs_check on small trees written here: a table in step passes, each kind of drift is named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools import docs_check

CATALOG = '''
EVENT_TYPES: dict[str, type] = {
    "crm.shop.ordered": object,
    "crm.shop.cancelled": object,
    "crm.stock.reserved": object,
}
'''
SHOP_APP = '''
DEFINITION = ServiceDefinition(name="shop", schema="shop", grpc_services=["crm.shop.v1.ShopService"])
'''
SHOP_CONSUMERS = '''
RESERVED = "crm.stock.reserved"
CONSUMERS = [ConsumerSpec("shop-stock-reserved", RESERVED, handler)]
'''
STOCK_APP = '''
DEFINITION = ServiceDefinition(name="stock-keeper", schema="stock", grpc_services=["crm.stock.v1.StockService"])
'''
# The shape reporting uses: the subject comes from a literal table the comprehension unpacks.
STOCK_CONSUMERS = '''
from crm_common.bus import subjects
CONSUMERS = [
    ConsumerSpec(durable=durable, subject=subject, handler=handler)
    for durable, subject, handler in (
        ("stock-shop-ordered", subjects.SHOP_ORDERED, on_ordered),
        ("stock-shop-cancelled", "crm.shop.cancelled", on_cancelled),
    )
]
'''
SUBJECTS = 'SHOP_ORDERED = "crm.shop.ordered"\n'
SETTINGS = '''
class ServiceSettings(BaseSettings):
    database_url: str = ""

class ShopSettings(ServiceSettings):
    basket_limit: int = 10
'''
README = '''
# Shop

| service | owns | gRPC | consumes | emits |
|---|---|---|---|---|
| [shop](services/shop/README.md) | orders | `crm.shop.v1.ShopService` | `crm.stock.reserved` | `crm.shop.ordered`, `crm.shop.cancelled` |
| [stock-keeper](services/stock/README.md) | stock | `crm.stock.v1.StockService` | `crm.shop.ordered`, `crm.shop.cancelled` | `crm.stock.reserved` |
| [gateway](gateway/README.md) | nothing | – (REST) | – | – |

See [the guide](docs/guide.md#getting-started) and `[not a link](nowhere.md)`.

```
[not a link either](nowhere.md)
```
'''
GUIDE = '''
# Guide

## Getting started

Set `CRM_DATABASE_URL` and `CRM_BASKET_LIMIT`. Back to the [README](../README.md).
'''


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository whose docs agree with its code."""
    _write(
        tmp_path,
        {
            "services/crm_common/bus/catalog.py": CATALOG,
            "services/crm_common/bus/subjects.py": SUBJECTS,
            "services/crm_common/settings.py": SETTINGS,
            "services/shop/app.py": SHOP_APP,
            "services/shop/consumers.py": SHOP_CONSUMERS,
            "services/shop/README.md": "# shop\n",
            "services/stock/app.py": STOCK_APP,
            "services/stock/consumers.py": STOCK_CONSUMERS,
            "services/stock/tests/test_x.py": 'ConsumerSpec("t", "crm.nowhere.at_all", h)\n',
            "services/stock/README.md": "# stock\n",
            "gateway/README.md": "# gateway\n",
            "README.md": README,
            "docs/guide.md": GUIDE,
        },
    )
    return tmp_path


def test_a_tree_in_step_passes(tree: Path) -> None:
    assert docs_check.check(tree) == []
    assert docs_check.main(["--root", str(tree)]) == 0


def test_the_code_is_read_as_declared(tree: Path) -> None:
    services, problems = docs_check.declared_services(tree)
    assert problems == []
    assert services["stock-keeper"].consumes == {"crm.shop.ordered", "crm.shop.cancelled"}
    assert services["stock-keeper"].emits == {"crm.stock.reserved"}
    assert services["shop"].consumes == {"crm.stock.reserved"}
    assert services["shop"].package == "shop"


def test_a_consumer_missing_from_the_table_is_named(tree: Path) -> None:
    readme = tree / "README.md"
    stock_consumes = "| `crm.shop.ordered`, `crm.shop.cancelled` | `crm.stock.reserved` |"
    readme.write_text(readme.read_text().replace(stock_consumes, "| `crm.shop.ordered` | `crm.stock.reserved` |"))
    assert docs_check.check(tree) == [
        "stock-keeper: the code consumes crm.shop.cancelled, the table's column does not list it"
    ]
    assert docs_check.main(["--root", str(tree)]) == 1


def test_an_event_the_table_invents_and_a_grpc_service_it_misses_are_named(tree: Path) -> None:
    readme = tree / "README.md"
    text = readme.read_text().replace("| `crm.stock.reserved` |\n", "| `crm.stock.reserved`, `crm.stock.released` |\n")
    readme.write_text(text.replace("| `crm.shop.v1.ShopService` |", "| – |"))
    assert docs_check.check(tree) == [
        "shop: the code gRPC crm.shop.v1.ShopService, the table's column does not list it",
        "stock-keeper: the table's emits column lists crm.stock.released, the code does not",
    ]


def test_a_service_missing_from_the_table_and_a_wrong_link_are_named(tree: Path) -> None:
    readme = tree / "README.md"
    lines = [line for line in readme.read_text().splitlines() if "[shop]" not in line]
    readme.write_text("\n".join(lines).replace("services/stock/README.md", "services/stock_keeper/README.md"))
    problems = docs_check.check(tree)
    assert "shop: defined in the code, missing from the table" in problems
    assert "stock-keeper: links to services/stock_keeper/README.md, expected services/stock/README.md" in problems
    assert "README.md: link to services/stock_keeper/README.md: no such file" in problems


def test_consumers_built_over_a_named_collection_are_read(tree: Path) -> None:
    fanout = """
    FORWARDED = {"crm.stock.reserved": "stock.reserved"}
    APPLY = {"crm.shop.cancelled": (("fact",), apply_cancelled)}
    def specs():
        return [ConsumerSpec(durable="shop-" + s, subject=s, handler=h) for s in FORWARDED]
    LIVE = [ConsumerSpec(durable=d(subject), subject=subject, handler=f) for subject, (_, f) in APPLY.items()]
    def _consumer(durable, subject, handler):
        return ConsumerSpec(durable=durable, subject=subject, handler=handler, order_by=by_lead)
    OWNERS = [_consumer("shop-reserved", "crm.stock.reserved", h), _consumer("shop-cancel", subject=RESERVED, handler=h)]
    """
    _write(tree, {"services/shop/fanout.py": fanout})
    services, problems = docs_check.declared_services(tree)
    assert problems == []
    assert services["shop"].consumes == {"crm.stock.reserved", "crm.shop.cancelled"}
    assert docs_check.check(tree) == ["shop: the code consumes crm.shop.cancelled, the table's column does not list it"]


def test_a_consumer_whose_subject_cannot_be_read_fails_the_check(tree: Path) -> None:
    _write(tree, {"services/shop/late.py": "SPEC = ConsumerSpec('shop-late', pick_subject(), handler)\n"})
    _, problems = docs_check.declared_services(tree)
    assert problems == ["services/shop/late.py:1: cannot tell which subject this ConsumerSpec consumes"]


def test_a_consumed_subject_outside_the_catalog_is_named(tree: Path) -> None:
    _write(tree, {"services/shop/late.py": "SPEC = ConsumerSpec('shop-late', 'crm.shop.refunded', handler)\n"})
    _, problems = docs_check.declared_services(tree)
    assert problems == ["shop: consumes crm.shop.refunded, which is not in services/crm_common/bus/catalog.py"]


def test_broken_links_and_anchors_are_named(tree: Path) -> None:
    guide = tree / "docs" / "guide.md"
    guide.write_text(guide.read_text() + "\n[gone](old.md), [anchor](../README.md#no-such-heading), [ok](#guide)\n")
    assert docs_check.check(tree) == [
        "docs/guide.md: link to old.md: no such file",
        "docs/guide.md: link to ../README.md#no-such-heading: no heading with that anchor",
    ]


def test_a_setting_no_doc_names_is_named(tree: Path) -> None:
    guide = tree / "docs" / "guide.md"
    guide.write_text(guide.read_text().replace("`CRM_BASKET_LIMIT`", "the limit"))
    assert docs_check.check(tree) == [
        "CRM_BASKET_LIMIT (ShopSettings) is named in no page under docs/ (add it to docs/configuration.md)"
    ]


def test_a_benchmark_the_table_does_not_list_is_named(tree: Path) -> None:
    _write(tree, {"tools/bench/helper.py": "X = 1\n", "tools/bench/burst.py": 'if __name__ == "__main__":\n    run()\n'})
    assert docs_check.check(tree) == ["tools/bench/burst.py is a benchmark docs/benchmarks.md does not list (`burst`)"]
    _write(tree, {"docs/benchmarks.md": "# Benchmarks\n\n| `burst` | what it measures |\n"})
    assert docs_check.check(tree) == []


def test_anchors_follow_githubs_rules() -> None:
    text = "# Where things are\n## REST (through the edge) and gRPC\n## Notes\n## Notes\n```\n# not a heading\n```\n"
    assert docs_check.anchors(text) == {"where-things-are", "rest-through-the-edge-and-grpc", "notes", "notes-1"}


def test_the_repository_declares_every_service_readably() -> None:
    services, problems = docs_check.declared_services(docs_check.REPO_ROOT)
    assert problems == []
    assert {"lead", "customer-master", "notification", "pipeline", "integration-gateway", "reporting"} <= set(services)
    assert "crm.pipeline.opportunity_opened" in services["lead"].consumes

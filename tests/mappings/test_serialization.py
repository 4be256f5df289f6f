"""Export and import (round trip is a no-op, diff, dry run) and the default mapping sets."""

import json
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from mappings import catalogs
from mappings.management.commands.install_default_mappings import DEFAULTS_DIR
from mappings.models import FieldMapping, MappingSet, ValueMap
from mappings.serialization import ImportProblem, dump, export_data, load
from tests.factories import IntegrationFactory
from tests.mappings.factories import order_head_set

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_export_then_import_changes_nothing(tmp_path):
    integration = IntegrationFactory(slug="shop-a")
    mapping_set = order_head_set(integration=integration, active=True)
    mapping_set.rules.create(
        name="B2B", condition="customer.group == 'B2B'", assignments={"ORTP": "B2B"}
    )
    ValueMap.objects.create(name="with-fallback", has_fallback=True, fallback="")
    for fmt in ("yaml", "json"):
        path = tmp_path / f"mappings.{fmt}"
        run("export_mappings", "-o", str(path))
        versions = dict(MappingSet.objects.values_list("pk", "version"))
        output = run("import_mappings", str(path))
        assert output.strip().endswith("0 created, 0 updated, 3 unchanged")
        assert dict(MappingSet.objects.values_list("pk", "version")) == versions
        run("export_mappings", "-o", str(tmp_path / f"again.{fmt}"))
        assert (tmp_path / f"again.{fmt}").read_text() == path.read_text()
    assert json.loads((tmp_path / "mappings.json").read_text())["format"] == "shopsync.mappings/1"


def test_export_to_stdout_is_yaml():
    order_head_set()
    data = yaml.safe_load(run("export_mappings"))
    assert data["mapping_sets"][0]["fields"][1] == {
        "target": "CUOR",
        "source": "reference",
        "transforms": "strip | upper",
    }
    assert data["value_maps"][0]["entries"] == [{"source": "Colissimo", "target": "COL"}]


def test_import_shows_a_diff_and_dry_run_writes_nothing(tmp_path):
    mapping_set = order_head_set(name="head")
    data = export_data()
    data["mapping_sets"][0]["fields"][1]["transforms"] = "strip"
    data["mapping_sets"][0]["fields"].append({"target": "CUCD", "source": "currency"})
    data["mapping_sets"][0]["description"] = "changed"
    data["value_maps"][0]["entries"].append({"source": "DHL", "target": "DHL"})
    path = tmp_path / "changed.yaml"
    path.write_text(dump(data))

    output = run("import_mappings", str(path), "--dry-run")
    assert (
        "~ mapping set 'head' (template): + field CUCD; description: None → 'changed'; ~ CUOR.transforms: 'strip | upper' → 'strip'"
        in output
    )
    assert "~ value map carriers: + 'DHL' → 'DHL'" in output
    assert output.strip().endswith("dry run, nothing written: 0 created, 2 updated, 0 unchanged")
    assert mapping_set.fields.count() == 5

    run("import_mappings", str(path))
    assert mapping_set.fields.get(target_field="CUOR").transforms == "strip"
    assert list(mapping_set.fields.values_list("target_field", flat=True))[-1] == "CUCD"
    assert run("import_mappings", str(path)).strip().endswith("0 created, 0 updated, 2 unchanged")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["mapping_sets"][0]["fields"].append({"target": "NOPE", "source": "x"}),
            "field 6 (NOPE): target_field: Unknown target field 'NOPE'",
        ),
        (
            lambda d: d["mapping_sets"][0]["fields"][0].update(source="a["),
            "field 1 (CUNO): source: Expression 'a['",
        ),
        (
            lambda d: d["mapping_sets"][0].update(integration="nope"),
            "integration 'nope' does not exist",
        ),
        (lambda d: d["mapping_sets"][0].pop("operation"), "operation is missing"),
    ],
)
def test_import_refuses_mistakes_and_writes_nothing(tmp_path, mutate, message):
    order_head_set(name="head")
    data = export_data()
    data["mapping_sets"][0]["name"] = "other"
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(dump(data))
    with pytest.raises(
        CommandError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        run("import_mappings", str(path))
    assert not MappingSet.objects.filter(name="other").exists()


def test_load_refuses_other_files():
    with pytest.raises(ImportProblem, match="not a mappings file"):
        load("a: 1")
    with pytest.raises(ImportProblem, match="not valid YAML or JSON"):
        load("{")


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run("import_mappings", str(tmp_path / "none.yaml"))


def test_install_default_mappings_is_idempotent():
    first = run("install_default_mappings")
    assert (
        "infor_m3: 4 created" in first.replace(" created, ", " created, ").split("\n")[-3]
        or "created" in first
    )
    counts = (MappingSet.objects.count(), FieldMapping.objects.count(), ValueMap.objects.count())
    assert counts[0] == 8
    second = run("install_default_mappings")
    assert "0 created, 0 updated" in second
    assert (
        MappingSet.objects.count(),
        FieldMapping.objects.count(),
        ValueMap.objects.count(),
    ) == counts
    assert not MappingSet.objects.filter(active=True).exists()


def test_install_keeps_local_edits_unless_reset():
    run("install_default_mappings", "infor_m3")
    row = FieldMapping.objects.get(
        mapping_set__name__startswith="M3 order head", target_field="CUOR"
    )
    row.transforms = "strip"
    row.save()
    output = run("install_default_mappings", "infor_m3")
    assert "differs from the file, kept as it is" in output
    row.refresh_from_db()
    assert row.transforms == "strip"
    run("install_default_mappings", "infor_m3", "--reset")
    assert (
        FieldMapping.objects.get(
            pk__isnull=False, mapping_set__name__startswith="M3 order head", target_field="CUOR"
        ).transforms
        == "strip | upper"
    )


def test_install_unknown_system():
    with pytest.raises(CommandError, match="no defaults for sap"):
        run("install_default_mappings", "sap")


@pytest.mark.parametrize("path", sorted(DEFAULTS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_default_files_use_fields_their_catalog_knows(path):
    """Checked against whatever catalogs the connectors publish today (skipped without one)."""
    data = load(path.read_text())
    checked = 0
    for mapping_set in data["mapping_sets"]:
        catalog = catalogs.get_catalog(mapping_set["target_system"], mapping_set["operation"])
        if catalog is None:
            continue
        for spec in mapping_set["fields"]:
            assert catalog.get(spec["target"]) is not None, (mapping_set["name"], spec["target"])
            checked += 1
    if not checked:
        pytest.skip(f"no catalog published yet for {path.stem}")


def test_default_m3_order_maps_a_real_order():
    from mappings import engine
    from mappings.rates import FixedRates
    from tests.mappings.conftest import make_order

    run("install_default_mappings", "infor_m3")
    head = MappingSet.objects.get(operation="OIS100MI.AddBatchHead")
    order = make_order(customer=make_order().customer.model_copy(update={"group": "B2B"}))
    if head.catalog is None:
        pytest.skip("the M3 connector publishes no catalog yet")
    payload = engine.map_document(
        engine.compiled_for(head), order, context=head.preview_context, rates=FixedRates({})
    )
    assert payload["CUOR"] == "XKBKNABJK"
    assert payload["MODL"] == "COL"
    assert payload["ORTP"] == "B2B"
    assert payload["TEPY"] == "010"
    assert payload["YREF"] == "Ada Lovelace"
    customer = MappingSet.objects.get(operation="CRS610MI.Add")
    doc = order.customer.model_copy(update={"addresses": [order.shipping_address], "phone": ""})
    payload = engine.map_document(engine.compiled_for(customer), doc, rates=FixedRates({}))
    assert payload["CUA1"] == "12 rue des Ingénieurs"
    assert payload["CUA2"] == "Bâtiment B"
    assert payload["PHNO"] == "+33142685300"
    assert payload["CUTM"] == "SHOPB2B"


def test_default_tims_order_maps_a_real_order():
    from mappings import engine
    from mappings.rates import FixedRates
    from tests.mappings.conftest import make_order

    run("install_default_mappings", "tims")
    head = MappingSet.objects.get(operation="sales_orders.create")
    if head.catalog is None:
        pytest.skip("the TIMS connector publishes no catalog yet")
    ValueMap.objects.get(name="tims_carrier_to_ship_via").entries.create(
        source_value="Colissimo", target_value="POST"
    )
    head.refresh_from_db()
    order = make_order(note="leave at the door")
    payload = engine.map_document(
        engine.compiled_for(head), order, context=head.preview_context, rates=FixedRates({})
    )
    assert payload["customer_code"] == "CUST001"
    assert payload["customer_po"] == "XKBKNABJK"
    assert payload["ship_via"] == "POST"
    assert payload["location_id"] == ""
    lines = MappingSet.objects.get(operation="sales_order_lines.create")
    payloads = engine.map_lines(engine.compiled_for(lines), order, rates=FixedRates({}))
    assert [p["item_code"] for p in payloads] == ["SKU-1", "SKU-2"]
    assert payloads[1]["quantity"] == 2


def test_import_currency_rates_command(tmp_path):
    from mappings.models import CurrencyRate

    path = tmp_path / "rates.csv"
    path.write_text("date,from_currency,to_currency,rate\n2026-11-20,EUR,CHF,0.95\n")
    assert run("import_currency_rates", str(path), "--dry-run").startswith("dry run")
    assert not CurrencyRate.objects.exists()
    assert run("import_currency_rates", str(path)).strip() == "1 new, 0 updated, 0 unchanged"
    assert run("import_currency_rates", str(path)).strip() == "0 new, 0 updated, 1 unchanged"
    path.write_text("date,from,to,rate\n2026-11-20,EUR,CHF,0.95\n")
    with pytest.raises(CommandError, match="missing column from_currency, to_currency"):
        run("import_currency_rates", str(path))
    path.write_text("date,from_currency,to_currency,rate\n2026-11-21,euro,CHF,-1\n")
    with pytest.raises(CommandError, match=r"row 1: .*from_currency"):
        run("import_currency_rates", str(path))
    assert CurrencyRate.objects.count() == 1

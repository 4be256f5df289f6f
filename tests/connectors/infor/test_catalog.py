from datetime import date
from decimal import Decimal

import pytest

from connectors.catalog import FieldType
from connectors.errors import DataError
from connectors.infor.catalog import (
    TRANSACTIONS,
    catalogs,
    check_input,
    convert_output,
    render_value,
    transaction,
)

USED = [
    "CRS610MI/SearchCustomer",
    "CRS610MI/Add",
    "CRS610MI/GetBasicData",
    "CRS610MI/ChgBasicData",
    "CRS610MI/AddAddress",
    "CRS610MI/LstAddresses",
    "MMS200MI/Get",
    "MMS200MI/GetItmBasic",
    "MMS200MI/LstItmByChgDate",
    "MMS200MI/GetItmPrice",
    "MMS200MI/GetItmWhsBal",
    "OIS100MI/AddBatchHead",
    "OIS100MI/AddBatchLine",
    "OIS100MI/AddBatchAddress",
    "OIS100MI/AddBatchText",
    "OIS100MI/Confirm",
    "OIS100MI/GetOrderNo",
    "OIS100MI/LstErrMsgOrder",
    "OIS100MI/LstBatchHead",
    "OIS100MI/LstBatchLine",
    "OIS100MI/GetHead",
    "OIS100MI/LstHead",
    "OIS100MI/LstLine",
    "MWS411MI/LstDelLnByOrd",
    "MWS410MI/GetHead",
    "OIS350MI/LstInvHeadByCo",
    "ARS200MI/LstInvoices",
]


@pytest.mark.parametrize("key", USED)
def test_every_transaction_used_has_a_catalog(key):
    assert key in TRANSACTIONS
    program, name = key.split("/")
    assert transaction(program, name).inputs.operation == f"{program}.{name}"


def test_reference_facts_are_in_the_catalog():
    head = transaction("OIS100MI", "AddBatchHead").inputs
    assert head.get("CUNO").required
    assert head.get("CUOR").max_length == 20
    assert head.get("ORDT").type is FieldType.DATE
    add = transaction("CRS610MI", "Add").inputs
    assert {f.name for f in add.fields if f.required} == {"CUTM", "CUNM", "CUA1"}
    assert add.get("MAIL").max_length == 50
    line = transaction("OIS100MI", "AddBatchLine").inputs
    assert line.get("ORQT").type is FieldType.NUMBER and line.get("ORQT").decimals == 6
    assert all(c.system == "infor_m3" for c in catalogs())


def test_check_input_renders_python_values_as_m3_text():
    rendered = check_input(
        "OIS100MI",
        "AddBatchHead",
        {"CUNO": "WEB0001", "ORDT": date(2024, 1, 15), "CUOR": "PS-1", "ORTP": None},
    )
    assert rendered == {"CUNO": "WEB0001", "ORDT": "20240115", "CUOR": "PS-1"}
    assert render_value(Decimal("12.500")) == "12.5"
    assert render_value(Decimal("1E+2")) == "100"
    assert render_value(True) == "1"


def test_check_input_names_field_and_value():
    with pytest.raises(DataError) as caught:
        check_input("OIS100MI", "AddBatchHead", {"CUNO": "WEB0001", "CUOR": "X" * 21})
    assert caught.value.field == "CUOR"
    assert caught.value.value == "X" * 21
    assert "M3 allows 20" in str(caught.value)
    with pytest.raises(DataError) as caught:
        check_input("OIS100MI", "AddBatchLine", {"ORNO": "1", "ITNO": "A", "ORQT": "two"})
    assert caught.value.field == "ORQT" and "not a number" in str(caught.value)
    with pytest.raises(DataError, match="mandatory field ITNO"):
        check_input("OIS100MI", "AddBatchLine", {"ORNO": "1"})


def test_convert_output_types_known_fields_and_keeps_others():
    row = convert_output(
        {"ITNO": "PS-1", "STQT": "120", "IDDT": "20240110", "ODDT": "0", "1UDT": "x", "SAPR": ""}
    )
    assert row == {
        "ITNO": "PS-1",
        "STQT": Decimal("120"),
        "IDDT": date(2024, 1, 10),
        "ODDT": None,
        "1UDT": "x",
        "SAPR": None,
    }

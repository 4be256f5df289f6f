"""M3 item updates: a configurable, UNVERIFIED transaction (MMS200MI/UpdItmBasic by example).

The reference pack verifies no item write (§4.3 lists reads only), so the transaction is the
connection option `item_update_transaction`; empty disables it with an error naming it.
"""

import pytest

from connectors.errors import DataError, PermanentError
from connectors.infor import catalog, operations
from connectors.infor.client import M3Client
from tests.connectors.infor.conftest import OPTIONS


def test_the_update_transaction_is_off_by_default_and_the_error_names_the_option(client, sim):
    assert client.settings.item_update_transaction == ""
    itno = next(iter(sim.state.items))
    with pytest.raises(PermanentError) as caught:
        operations.item_update(client, itno=itno, record={"ITDS": "New name"})
    assert caught.value.field == "item_update_transaction"
    assert "item_update_transaction" in str(caught.value)
    assert not [c for c in sim.state.calls if c["transaction"] == "UpdItmBasic"]


def test_a_configured_update_changes_only_the_fields_sent(sim, sleeps):
    client = M3Client.from_ionapi(
        sim.ionapi(),
        options={**OPTIONS, "item_update_transaction": "MMS200MI/UpdItmBasic"},
        sleep=sleeps.append,
    )
    try:
        itno = next(iter(sim.state.items))
        before = dict(sim.state.items[itno])
        operations.item_update(client, itno=itno, record={"ITDS": "Shop name", "NEWE": "0.5"})
        after = sim.state.items[itno]
        assert after["ITDS"] == "Shop name" and after["NEWE"] == "0.5"
        assert after["FUDS"] == before["FUDS"] and after["SAPR"] == before["SAPR"]
        row = operations.item_get(client, itno=itno)
        assert row["ITDS"] == "Shop name"
    finally:
        client.close()


def test_the_update_is_checked_against_the_catalog_before_it_is_sent(sim, sleeps):
    client = M3Client.from_ionapi(
        sim.ionapi(),
        options={**OPTIONS, "item_update_transaction": "MMS200MI/UpdItmBasic"},
        sleep=sleeps.append,
    )
    try:
        itno = next(iter(sim.state.items))
        with pytest.raises(DataError) as caught:
            operations.item_update(client, itno=itno, record={"ITDS": "x" * 31})
        assert caught.value.field == "ITDS"
    finally:
        client.close()


def test_a_malformed_option_is_named(sim, sleeps):
    client = M3Client.from_ionapi(
        sim.ionapi(), options={**OPTIONS, "item_update_transaction": "UpdItmBasic"}
    )
    try:
        with pytest.raises(DataError) as caught:
            operations.item_update(client, itno="PS-1001", record={"ITDS": "x"})
        assert caught.value.field == "item_update_transaction"
    finally:
        client.close()


def test_the_catalog_marks_the_transaction_unverified():
    tx = catalog.transaction("MMS200MI", "UpdItmBasic")
    assert tx is not None and "[D" in tx.inputs.description
    assert [f.name for f in tx.inputs.fields if f.required] == ["ITNO"]

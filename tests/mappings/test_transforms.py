"""Transforms: each one's behaviour, chain parsing, and the property that nothing but a
DataError naming the field and value ever escapes."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.catalog import FieldType, TargetField
from connectors.errors import DataError
from mappings.rates import FixedRates
from mappings.transforms import (
    TRANSFORMS,
    ChainError,
    TransformContext,
    ValueTable,
    apply,
    parse_chain,
    parse_step,
    run_chain,
)

DOC = {
    "currency": "USD",
    "placed_at": "2026-11-20T09:30:00+00:00",
    "shipping_address": {"country": "FR"},
}
RATES = FixedRates({(date(2026, 11, 20), "USD", "EUR"): Decimal("0.9")})
MAPS = {
    "carriers": ValueTable.build("carriers", {"Colissimo": "COL", "DHL": "DHL"}),
    "states": ValueTable.build("states", {"2": "A01"}, has_fallback=True, fallback="X"),
}


def ctx(field="FIELD", target=None, document=DOC) -> TransformContext:
    return TransformContext(
        document=document, field=field, target=target, value_maps=MAPS, rates=RATES
    )


def run(chain: str, value, **kwargs):
    return run_chain(parse_chain(chain), value, ctx(**kwargs))


# --- behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chain", "value", "expected"),
    [
        ("to_decimal", "12,50", Decimal("12.50")),
        ("to_decimal", 3, Decimal(3)),
        ("to_decimal", 0.1, Decimal("0.1")),
        ("to_int", "4.0", 4),
        ("round(2)", "2.345", Decimal("2.35")),
        ("round(0)", Decimal("2.5"), Decimal("3")),
        ("truncate(5)", "abcdefgh", "abcde"),
        ("upper", "abc", "ABC"),
        ("lower", "ABC", "abc"),
        ("strip", "  a   b  ", "a b"),
        ("concat", ["Ada", None, "", "Lovelace"], "Ada Lovelace"),
        ("concat('-')", ["a", 1, Decimal("2.5")], "a-1-2.5"),
        ("split(',')", "a,b,c", ["a", "b", "c"]),
        ("split | item(1)", "a b c", "b"),
        ("item(5)", ["a"], ""),
        ("date_format", "2026-11-20T09:30:00+00:00", "20261120"),
        ("date_format('%d/%m/%Y')", date(2026, 1, 2), "02/01/2026"),
        ("iso_country", "fr", "FRA"),
        ("iso_country", "CHE", "CHE"),
        ("phone_e164(region='FR')", "01 42 68 53 00", "+33142685300"),
        ("phone_e164(region_from='shipping_address.country')", "0142685300", "+33142685300"),
        ("phone_e164", "+41 44 668 18 00", "+41446681800"),
        ("currency_convert('EUR')", "10", Decimal("9.0")),
        ("currency_convert('USD')", "10", Decimal("10")),
        ("currency_convert('EUR', places=2)", "10.555", Decimal("9.50")),
        ("value_map('carriers')", "colissimo", "COL"),
        ("value_map('states')", 2, "A01"),
        ("value_map('states')", "9", "X"),
        ("default('N/A')", None, "N/A"),
        ("default('N/A')", "x", "x"),
        ("regex_replace('[^0-9]', '')", "+33 (0)1-42", "33014" + "2"),
        ("regex_replace('a|b', 'x')", "abc", "xxc"),
        ("to_str", Decimal("1E+2"), "100"),
    ],
)
def test_transform(chain, value, expected):
    result = run(chain, value)
    assert result == expected
    assert type(result) is type(expected)


def test_empty_values_skip_steps_except_default():
    assert run("to_decimal | round(2)", None) is None
    assert run("upper", "") == ""
    assert run("upper | default('X')", None) == "X"


def test_truncate_defaults_to_the_target_length():
    target = TargetField("CUOR", FieldType.STRING, max_length=4)
    assert run("truncate", "abcdef", target=target) == "abcd"


def test_fit_lines_keeps_words_whole_and_parts_on_their_own_lines():
    lines = run("fit_lines(20)", ["12 rue des Ingénieurs de Paris", "Bâtiment B"])
    assert lines == ["12 rue des", "Ingénieurs de Paris", "Bâtiment B"]
    assert all(len(line) <= 20 for line in lines)


def test_fit_lines_packs_parts_when_lines_run_short():
    assert run("fit_lines(20, 2)", ["12 rue X", "Bât B"]) == ["12 rue X", "Bât B"]
    assert run("fit_lines(20, 1)", ["12 rue X", "Bât B"]) == ["12 rue X Bât B"]


def test_fit_lines_uses_the_target_length():
    target = TargetField("CUA1", FieldType.STRING, max_length=10)
    assert run("fit_lines", "aaaa bbbb cccc", target=target) == ["aaaa bbbb", "cccc"]


def test_fit_lines_refuses_too_many_lines_and_too_long_words():
    with pytest.raises(DataError, match="needs 3 lines of 5, the target has 2"):
        run("fit_lines(5, 2)", "aaa bbb ccc")
    with pytest.raises(DataError, match="one word longer than the line"):
        run("fit_lines(5)", "Ingénieurs")


def test_unmapped_value_names_the_map_and_the_value():
    with pytest.raises(DataError) as caught:
        run("value_map('carriers')", "UPS", field="MODL")
    error = caught.value
    assert error.field == "MODL"
    assert error.value == "'UPS'"
    assert "value map 'carriers' has no entry for 'UPS'" in error.message


def test_missing_rate_names_the_date_and_the_pair():
    with pytest.raises(DataError) as caught:
        run(
            "currency_convert('CHF')",
            "10",
            field="SAPR",
        )
    assert "no currency rate USD→CHF for 2026-11-20" in caught.value.message
    assert caught.value.field == "SAPR"
    assert caught.value.details["pair"] == "USDCHF"


def test_currency_convert_without_date_or_currency():
    with pytest.raises(DataError, match="no date"):
        run("currency_convert('EUR')", "1", document={"currency": "USD"})
    with pytest.raises(DataError, match="no currency"):
        run("currency_convert('EUR')", "1", document={})


@pytest.mark.parametrize(
    ("chain", "value", "message"),
    [
        ("to_decimal", "abc", "is not a number"),
        ("to_decimal", "NaN", "not a finite number"),
        ("to_decimal", "1E+999999", "out of range"),
        ("to_int", "2.5", "not a whole number"),
        ("upper", {"a": 1}, "is not text"),
        ("date_format", "yesterday", "is not a date"),
        ("iso_country", "XX", "is not an ISO 3166 country code"),
        ("phone_e164", "12", "is not a phone number"),
        ("phone_e164(region='FR')", "01 02", "is not a valid phone number"),
    ],
)
def test_wrong_input_is_a_data_error(chain, value, message):
    with pytest.raises(DataError, match=message) as caught:
        run(chain, value, field="X")
    assert caught.value.field == "X"


# --- chains -------------------------------------------------------------------------------


def test_chain_splits_on_pipes_outside_quotes():
    steps = parse_chain("strip | regex_replace('a|b', 'x') | truncate(3)")
    assert [s.transform.name for s in steps] == ["strip", "regex_replace", "truncate"]


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ("shout", "unknown transform 'shout'"),
        ("truncate(0)", "at least 1"),
        ("truncate('x')", "at least 1"),
        ("round(2, 3)", "too many positional arguments"),
        ("upper(1)", "too many positional arguments"),
        ("truncate(__import__('os'))", "must be plain values"),
        ("strip ||", "step 2 is empty"),
        ("regex_replace('(')", "not a valid regex"),
        ("value_map(1)", "must be text"),
        ("currency_convert('euro')", "ISO 4217"),
        ("currency_convert('EUR', date_path='a[')", "does not parse"),
        ("fit_lines(0)", "at least 1"),
        ("split('')", "must not be empty"),
        ("trunc ate", "name or name(arguments)"),
        ("truncate(**{'length': 3})", "must be plain values"),
    ],
)
def test_bad_chains_are_refused_with_the_step(chain, message):
    with pytest.raises(ChainError, match=re.escape(message)):
        parse_chain(chain)


def test_empty_chain():
    assert parse_chain("") == ()
    assert parse_chain("   ") == ()


def test_every_transform_has_a_doc_and_an_output_type():
    for name, t in TRANSFORMS.items():
        assert t.doc, name
        assert isinstance(t.output, type), name


# --- property: a value of the declared type, or a DataError naming field and value -----------

SAMPLE_STEPS = [
    "to_str",
    "to_decimal",
    "to_int",
    "round(2)",
    "truncate(5)",
    "truncate",
    "upper",
    "lower",
    "strip",
    "concat",
    "split",
    "split(',', 1)",
    "item(1)",
    "date_format",
    "iso_country",
    "phone_e164",
    "phone_e164(region='FR')",
    "phone_e164(region_from='shipping_address.country')",
    "currency_convert('EUR')",
    "currency_convert('CHF', places=2)",
    "value_map('carriers')",
    "value_map('states')",
    "value_map('missing')",
    "default('x')",
    "regex_replace('[0-9]+', '#')",
    "regex_replace('(a)', '\\\\2')",
    "fit_lines(8, 2)",
    "fit_lines",
]
assert {parse_step(s).transform.name for s in SAMPLE_STEPS} == set(TRANSFORMS)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        ["12,50", "1E+40", "-0", "2026-11-20", "FR", "fra", "+33142685300", "20261120"]
    )
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
)
any_input = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
documents = st.one_of(
    st.just(DOC),
    st.dictionaries(
        st.sampled_from(["currency", "placed_at", "shipping_address", "order"]),
        any_input,
        max_size=4,
    ),
    any_input,
)
targets = st.sampled_from(
    [None, TargetField("F", FieldType.STRING, max_length=6), TargetField("F", FieldType.NUMBER)]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.sampled_from(SAMPLE_STEPS), value=any_input, document=documents, target=targets)
def test_transform_returns_its_type_or_a_data_error(step, value, document, target):
    parsed = parse_step(step)
    context = ctx(field="FIELD", target=target, document=document)
    try:
        result = apply(parsed, value, context)
    except DataError as error:
        assert error.field == "FIELD"
        assert isinstance(error.value, str) and error.value
        return
    assert isinstance(result, parsed.transform.output), (step, value, result)


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=200), width=st.integers(min_value=1, max_value=40))
def test_fit_lines_never_cuts_a_word_nor_overflows(text, width):
    try:
        lines = run(f"fit_lines({width})", text)
    except DataError:
        assert any(len(word) > width for word in text.split())
        return
    assert all(len(line) <= width for line in lines)
    assert " ".join(lines).split() == text.split()


def test_datetime_input_to_date_format():
    assert run("date_format", datetime(2026, 1, 2, tzinfo=UTC)) == "20260102"

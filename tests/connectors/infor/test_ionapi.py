import json

import pytest

from connectors.errors import DataError
from connectors.infor.ionapi import IonApiCredentials, parse_ionapi


def test_sample_ionapi_parses_and_builds_urls_by_concatenation(sample):
    data = sample("sample.ionapi")
    parsed = parse_ionapi(json.dumps(data))
    assert parsed["ti"] == "ACME_TST"
    creds = IonApiCredentials.from_dict(parsed)
    assert creds.token_url == "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2"
    assert creds.revoke_url.endswith("/ACME_TST/as/revoke_token.oauth2")
    assert creds.api_base == "https://mingle-ionapi.inforcloudsuite.com/ACME_TST"
    # saak is sent as is: it already starts with TENANT#
    assert creds.username.startswith("ACME_TST#")
    assert creds.has_service_account


def test_keys_are_read_case_insensitively(sample):
    data = {k.upper(): v for k, v in sample("sample.ionapi").items()}
    parsed = parse_ionapi(json.dumps(data))
    assert parsed["saak"].startswith("ACME_TST#")
    assert IonApiCredentials.from_dict(parsed).password == data["SASK"]


def test_missing_service_account_keys_are_tolerated(sample):
    data = sample("sample.ionapi")
    del data["saak"], data["sask"]
    creds = IonApiCredentials.from_dict(parse_ionapi(json.dumps(data)))
    assert not creds.has_service_account


def test_bytes_with_bom_are_accepted(sample):
    raw = b"\xef\xbb\xbf" + json.dumps(sample("sample.ionapi")).encode()
    assert parse_ionapi(raw)["ci"].startswith("ACME_TST~")


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("{not json", "ionapi", "not valid JSON"),
        ("[1, 2]", "ionapi", "JSON object"),
        ('{"ci": "x", "cs": "y", "pu": "https://a/T/as/"}', "ot", "lacks ot"),
        ('{"ci": "x", "cs": "y", "pu": "nope", "ot": "t"}', "pu", "not a URL"),
        ('{"ci": {"a": 1}, "cs": "y", "pu": "https://a/", "ot": "t"}', "ci", "must be a string"),
    ],
)
def test_bad_files_get_clear_errors(text, field, words):
    with pytest.raises(DataError) as caught:
        parse_ionapi(text)
    assert caught.value.field == field
    assert words in str(caught.value)

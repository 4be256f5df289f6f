"""The three groups the 0005 migration creates, and what each may do."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def test_the_three_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Integration admin",
        "Operator",
        "Viewer",
    }


def test_viewer_only_looks(viewer):
    assert viewer.has_perm("integrations.view_syncrecord")
    assert viewer.has_perm("mappings.view_valuemap")
    assert viewer.has_perm("connectors.view_connection")
    assert not viewer.has_perm("integrations.retry_syncrecord")
    assert not viewer.has_perm("integrations.resolve_syncrecord")
    assert not viewer.has_perm("mappings.change_valuemap")


def test_operator_retries_resolves_and_decides_but_edits_no_mapping(operator):
    for perm in ("retry_syncrecord", "resolve_syncrecord", "release_stockhold", "view_link"):
        assert operator.has_perm(f"integrations.{perm}"), perm
    assert not operator.has_perm("mappings.change_valuemap")
    assert not operator.has_perm("connectors.change_connection")


def test_integration_admin_edits_connections_mappings_and_integrations(integration_admin):
    for perm in (
        "connectors.add_connection",
        "connectors.change_connection",
        "connectors.delete_connection",
        "connectors.rotate_credentials",
        "mappings.change_mappingset",
        "mappings.add_valuemapentry",
        "integrations.change_integration",
        "integrations.view_syncrecord",
    ):
        assert integration_admin.has_perm(perm), perm
    assert not integration_admin.has_perm("integrations.retry_syncrecord")

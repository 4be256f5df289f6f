"""The Suggest page of a mapping set: linked from the change form, one click accepts."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from mappings.models import FieldMapping, MappingSet
from mappings.suggestions import field_mapping_accept

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def head_set():
    mapping_set = MappingSet.objects.create(
        name="M3 head draft",
        entity="order_header",
        target_system="infor_m3",
        operation="OIS100MI.AddBatchHead",
        preview_context={"customer_number": "C000001"},
    )
    FieldMapping.objects.create(mapping_set=mapping_set, target_field="CUCD", source="currency")
    return mapping_set


def test_change_form_links_to_the_suggest_page(staff, head_set):
    page = staff.get(reverse("admin:mappings_mappingset_change", args=[head_set.pk]))
    assert page.status_code == 200
    assert reverse("admin:mappings_mappingset_suggest", args=[head_set.pk]) in page.content.decode()


def test_suggest_page_shows_top_three_with_reasons(staff, head_set):
    page = staff.get(reverse("admin:mappings_mappingset_suggest", args=[head_set.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-target="CUOR" data-source="reference"' in html
    assert "synonym table" in html
    assert 'data-target="CUCD"' not in html  # already mapped


def test_accept_creates_the_field_mapping(staff, head_set):
    version = head_set.version
    url = reverse("admin:mappings_mappingset_suggest", args=[head_set.pk])
    response = staff.post(url, {"target_field": "CUOR", "source": "reference", "score": "0.9"})
    assert response.status_code == 302
    row = head_set.fields.get(target_field="CUOR")
    assert row.source == "reference"
    assert "assistant" in row.note
    head_set.refresh_from_db()
    assert head_set.version > version
    assert 'data-target="CUOR"' not in staff.get(url).content.decode()


def test_accept_refuses_what_a_save_would_refuse(staff, head_set):
    url = reverse("admin:mappings_mappingset_suggest", args=[head_set.pk])
    response = staff.post(url, {"target_field": "NOPE", "source": "reference"}, follow=True)
    assert "Unknown target field" in response.content.decode()
    assert not head_set.fields.filter(target_field="NOPE").exists()
    with pytest.raises(Exception, match="source"):
        field_mapping_accept(mapping_set=head_set, target_field="CUOR", source="reference[")


def test_viewers_may_look_but_not_accept(client, django_user_model, head_set):
    user = django_user_model.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_mappingset"))
    client.force_login(user)
    url = reverse("admin:mappings_mappingset_suggest", args=[head_set.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="Accept"' not in page.content.decode()
    assert client.post(url, {"target_field": "CUOR", "source": "reference"}).status_code == 403
    assert not head_set.fields.filter(target_field="CUOR").exists()

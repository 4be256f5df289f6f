"""The three roles of the ops console, as groups (issue: the admin as an ops console).

- Integration admin: edits connections, mappings and integrations (add/change/delete there),
  and may look at everything else.
- Operator: looks at everything; may retry, resolve and skip records and take the order
  decisions (customer conflicts, backorders) and the stock hold decisions.
- Viewer: looks only.

Permissions are created here first: Django only creates them after all migrations ran, and a
fresh database would otherwise get empty groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_APPS = ("integrations", "connectors", "mappings")
# (app label, model) whose rows an Integration admin adds, changes and deletes.
ADMIN_EDITS = {
    "connectors": None,  # every model of the app
    "mappings": None,
    "integrations": ("integration", "eventroute", "eventsubscription"),
}
ADMIN_EXTRA = (("connectors", "rotate_credentials"),)
OPERATOR_EXTRA = (
    ("integrations", "retry_syncrecord"),
    ("integrations", "resolve_syncrecord"),
    ("integrations", "release_stockhold"),
)
ROLES = ("Integration admin", "Operator", "Viewer")


def _ensure_permissions(apps) -> None:
    for label in (*ROLE_APPS, "auth", "contenttypes"):
        config = apps.get_app_config(label)
        models_module = getattr(config, "models_module", None)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = models_module


def roles_create(apps, schema_editor) -> None:
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label__in=ROLE_APPS)
    view = list(perms.filter(codename__startswith="view_"))

    def named(pairs):
        return [
            perms.get(content_type__app_label=app, codename=codename) for app, codename in pairs
        ]

    edits = []
    for app, models in ADMIN_EDITS.items():
        for perm in perms.filter(content_type__app_label=app):
            action, _, model = perm.codename.partition("_")
            if action in ("add", "change", "delete") and (models is None or model in models):
                edits.append(perm)

    members = {
        "Integration admin": view + edits + named(ADMIN_EXTRA),
        "Operator": view + named(OPERATOR_EXTRA),
        "Viewer": view,
    }
    for name, permissions in members.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def roles_delete(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_stock"),
        ("connectors", "0001_initial"),
        ("mappings", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]

"""Every URL and every admin action, visited as anonymous, Viewer, Operator and Integration
admin, checked against one policy table.

The URLs are generated from the URLconf (get_resolver, recursively) and the actions from
admin.site's registry, so a new page, endpoint or action is visited as soon as it exists. The
expected outcome comes from POLICY below, written from the roles' definition (who may look,
who may retry/resolve/skip, who may edit configuration), not from the code under test. A URL
or an action that no rule classifies fails `test_every_url_has_a_policy` /
`test_every_action_has_a_policy`: that is what stops a new endpoint slipping past.

Each request runs in a savepoint that is rolled back, so a permitted delete or action does not
change what the next role sees.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.console.conftest import roles_ensure
from tests.factories import ConnectionFactory, IntegrationFactory, SyncRecordFactory

ROLES = ("anonymous", "Viewer", "Operator", "Integration admin")

# ------------------------------------------------------------------------------ the policy
#
# What each role may do, by verb and model. Nobody but a superuser sees auth, tokens, the q2
# queue or the login-failure log (apps outside ROLE_APPS).
ROLE_APPS = frozenset({"integrations", "connectors", "mappings"})
# (app, model) an Integration admin adds, changes and deletes; "*" is every model of the app.
CONFIGURATION = frozenset(
    {
        ("connectors", "*"),
        ("mappings", "*"),
        ("integrations", "integration"),
        ("integrations", "eventroute"),
        ("integrations", "eventsubscription"),
    }
)
# Operator's decisions on records and stock holds.
OPERATIONS = frozenset(
    {
        ("retry", "integrations", "syncrecord"),
        ("resolve", "integrations", "syncrecord"),
        ("release", "integrations", "stockhold"),
    }
)


def may(role: str, verb: str, app: str, model: str) -> bool:
    """The policy: may `role` do `verb` (view/add/change/delete/retry/...) on app.model?"""
    if role == "anonymous" or app not in ROLE_APPS:
        return False
    if verb == "view":
        return True
    if role == "Integration admin":
        editable = (app, "*") in CONFIGURATION or (app, model) in CONFIGURATION
        return verb in ("add", "change", "delete") and editable
    if role == "Operator":
        return (verb, app, model) in OPERATIONS
    return False


# An admin action declares `permissions=[...]`; the verb each stands for, on the admin's model.
ACTION_VERBS = {
    "view": "view",
    "add": "add",
    "change": "change",
    "delete": "delete",
    "retry": "retry",
    "resolve": "resolve",
    "release": "release",
    # Testing a connection calls the remote system with its stored credentials: configuration.
    "test": "change",
}
# Actions of third-party admins that declare no permissions. Their apps are outside
# ROLE_APPS, so no role can even open the changelist (test_each_action_as_each_role proves
# the action never runs for any role); only a superuser sees them.
THIRD_PARTY_UNDECLARED = frozenset(
    {
        "django_q.Success.resubmit_task",
        "django_q.Failure.resubmit_task",
        "axes.AccessAttempt.cleanup_expired_attempts",
    }
)


# ---------------------------------------------------------------------- expected outcomes

ALLOW, DENY, PUBLIC, SIGNED, STAFF = "allow", "deny", "public", "signed", "staff"
# Signed in, and then the view decides on its own parameters (autocomplete, the admin's 404
# fallback, view-on-site): anonymous is refused; a role gets anything but a server error.
SIGNED_IN = "signed-in"


@dataclass(frozen=True)
class Rule:
    """A URL name (regex on "namespace:name", or on the route for unnamed patterns) and what
    each method needs: a (verb, app, model) triple, or one of PUBLIC/SIGNED/STAFF."""

    name: str
    needs: Callable[[str, "Url"], Any]  # (method, url) -> need; None: method not tried
    on_route: bool = False

    def matches(self, url: "Url") -> bool:
        target = url.route if self.on_route else url.name
        return re.fullmatch(self.name, target) is not None


@dataclass
class Url:
    name: str  # "namespace:name", "" when unnamed
    route: str  # the pattern, e.g. "admin/connectors/connection/<path:object_id>/change/"
    path: str = ""  # concrete, filled in from the world
    model: tuple[str, str] | None = None  # (app_label, model_name) for model admin URLs


def _admin_model_needs(get: str | None, post: str | None):
    def needs(method: str, url: Url):
        app, model = url.model
        verb = {"GET": get, "POST": post}.get(method)
        return (verb, app, model) if verb else None

    return needs


def _api_model_needs(get: str | None, write: str | None, write_method: str = "POST"):
    def needs(method: str, url: Url):
        app, model = url.model
        if method == "GET":
            return ("view", app, model) if get else None
        if method == write_method:
            return (write, app, model) if write else None
        return None

    return needs


def _fixed(get: Any = None, post: Any = None):
    def needs(method: str, url: Url):
        return {"GET": get, "POST": post}.get(method)

    return needs


SYNC_RECORD = ("integrations", "syncrecord")
RULES: list[Rule] = [
    # Public: liveness, the login page and logging out.
    Rule(r"healthz", _fixed(get=PUBLIC)),
    Rule(r"admin:login", _fixed(get=PUBLIC)),
    Rule(r"admin:logout", _fixed(post=PUBLIC)),
    # Webhooks authenticate by signature, not by session: nobody gets in without one.
    Rule(r"webhooks:receive", _fixed(get=SIGNED, post=SIGNED)),
    # Any staff member: the admin's home, their own password, the admin's own helpers.
    Rule(r"admin:(index|password_change|password_change_done|jsi18n)", _fixed(get=STAFF)),
    Rule(r"admin:autocomplete", _fixed(get=SIGNED_IN)),
    Rule(r"admin:view_on_site", _fixed(get=SIGNED_IN)),
    Rule(r"admin:app_list", lambda m, u: ("view", u.model[0], "*") if m == "GET" else None),
    # The admin's fallback for unknown admin URLs: a login page or a 404, never content.
    Rule(r"admin/\(\?P<url>\.\*\)\$", _fixed(get=SIGNED_IN), on_route=True),
    # A model admin's own pages.
    Rule(r"admin:\w+_changelist", _admin_model_needs("view", "view")),
    Rule(r"admin:\w+_add", _admin_model_needs("add", "add")),
    Rule(r"admin:\w+_change", _admin_model_needs("view", "change")),
    Rule(r"admin:\w+_delete", _admin_model_needs("delete", "delete")),
    Rule(r"admin:\w+_history", _admin_model_needs("view", None)),
    Rule(r"admin:\w+_simple_history", _admin_model_needs("view", "change")),
    Rule(r"admin:\w+_export", _admin_model_needs("view", "view")),
    Rule(r"admin:\w+_process_import", _admin_model_needs(None, "change")),  # POST only
    Rule(r"admin:\w+_import", _admin_model_needs("change", "change")),
    # A user's password, set by whoever may change users (nobody but a superuser here).
    Rule(r"admin:auth_user_password_change", _admin_model_needs("change", "change")),
    # <object_id>/ redirects to <object_id>/change/ (checked there) for any staff member.
    Rule(r"admin/\w+/\w+/<path:object_id>/", _fixed(get=SIGNED_IN), on_route=True),
    # Mapping sets: preview and dry run only read (a posted preview shows, saves nothing);
    # accepting a suggestion changes the set.
    Rule(r"admin:mappings_mappingset_preview", _admin_model_needs("view", "view")),
    Rule(r"admin:mappings_mappingset_dry_run", _admin_model_needs("view", None)),
    Rule(r"admin:mappings_mappingset_suggest", _admin_model_needs("view", "change")),
    # Testing a connection (POST only) calls the system with the stored credentials.
    Rule(r"admin:connectors_connection_test", _admin_model_needs(None, "change")),
    # Retry one record with one field overridden: an Operator's decision, even to look.
    Rule(
        r"admin:integrations_syncrecord_override",
        _fixed(("retry", *SYNC_RECORD), ("retry", *SYNC_RECORD)),
    ),
    # The ops console: read-only pages over records (new console pages classify here).
    Rule(r"console_\w+", _fixed(get=("view", *SYNC_RECORD))),
    # API: the schema and its docs page for any signed-in role.
    Rule(r"api:(schema|docs)", _fixed(get=STAFF)),
    Rule(r"api:report-[\w-]+", _fixed(get=("view", *SYNC_RECORD))),
    Rule(r"api:sync-record-retry", _fixed(post=("retry", *SYNC_RECORD))),
    Rule(r"api:sync-record-resolve", _fixed(post=("resolve", *SYNC_RECORD))),
    Rule(r"api:[\w-]+-list", _api_model_needs("view", "add")),
    Rule(r"api:[\w-]+-detail", _api_model_needs("view", "change", write_method="PATCH")),
]


def rule_for(url: Url) -> Rule | None:
    return next((rule for rule in RULES if rule.matches(url)), None)


def expected(role: str, need: Any) -> str:
    if need == PUBLIC:
        return ALLOW
    if need == SIGNED:
        return SIGNED
    if need in (STAFF, SIGNED_IN):
        return DENY if role == "anonymous" else need
    verb, app, model = need
    if model == "*":  # an app's index: allowed when the role sees any model of the app
        return ALLOW if may(role, verb, app, "any") else DENY
    return ALLOW if may(role, verb, app, model) else DENY


# ------------------------------------------------------------------------ the URLconf walk


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Url]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield Url(name=name, route=prefix + str(pattern.pattern))


def all_urls() -> list[Url]:
    urls = []
    admin_models = {
        f"{m._meta.app_label}/{m._meta.model_name}/": (m._meta.app_label, m._meta.model_name)
        for m in admin.site._registry
    }
    api_models = {
        m._meta.model_name: (m._meta.app_label, m._meta.model_name) for m in _role_models()
    }
    for url in walk(get_resolver().url_patterns):
        rest = url.route.split("/", 1)[1] if url.route.startswith("admin/") else ""
        for prefix, model in admin_models.items():
            if rest.startswith(prefix):
                url.model = model
        if url.name.startswith("api:"):
            # "sync-record-retry" -> syncrecord: the longest leading words naming a model.
            words = url.name.removeprefix("api:").split("-")
            for end in range(len(words), 0, -1):
                if "".join(words[:end]) in api_models:
                    url.model = api_models["".join(words[:end])]
                    break
        urls.append(url)
    # The app index is one regex for every app: one URL per app.
    expanded = []
    for url in urls:
        if url.name == "admin:app_list":
            labels = re.search(r"\(\?P<app_label>([^)]*)\)", url.route).group(1).split("|")
            for label in labels:
                expanded.append(
                    Url(url.name, url.route, path=f"/admin/{label}/", model=(label, "*"))
                )
        else:
            expanded.append(url)
    return expanded


def _role_models():
    from django.apps import apps

    return [m for m in apps.get_models() if m._meta.app_label in ROLE_APPS]


URLS = all_urls()


def test_every_url_has_a_policy():
    unclassified = [f"{u.name or '(unnamed)'} {u.route}" for u in URLS if rule_for(u) is None]
    assert not unclassified, "URLs with no entry in RULES:\n" + "\n".join(unclassified)
    # Model URLs must know their model, or the policy cannot be applied.
    unknown_models = [
        u.name
        for u in URLS
        if (u.name.startswith("api:") and re.search(r"-(list|detail)$", u.name) and not u.model)
    ]
    assert not unknown_models, f"API endpoints whose model is unknown: {unknown_models}"


# --------------------------------------------------------------------------- the world


@pytest.fixture
def world(db, django_user_model):
    """One object of the main models, so detail pages render, and one user per role."""
    from integrations.models import EventRoute, EventSubscription, Link, Status, WebhookEvent
    from mappings.models import FieldMapping, ValueMap, ValueMapEntry
    from tests.mappings.factories import MappingSetFactory

    roles_ensure()
    integration = IntegrationFactory(slug="authz")
    integration.webhook_secrets = {"prestashop": ["whsec_" + "A" * 32]}
    integration.save()
    record = SyncRecordFactory(integration=integration, status=Status.NEEDS_ATTENTION)
    Link.objects.create(
        integration=integration, entity="customer", shop_id="1", erp_id="C1", record=record
    )
    WebhookEvent.objects.create(
        integration=integration, source="prestashop", event_id="msg_1", body="{}"
    )
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="order.created", flow="test_noop"
    )
    EventSubscription.objects.create(
        integration=integration,
        name="sub",
        url="https://hooks.example.com/in",
        event_types=["order.synced"],
        secret={"secret": "whsec_" + "B" * 32},
    )
    mapping_set = MappingSetFactory()
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=10, target_field="CUOR", source="reference"
    )
    value_map = ValueMap.objects.create(name="carriers")
    ValueMapEntry.objects.create(value_map=value_map, source_value="A", target_value="B")
    ConnectionFactory()
    users = {}
    for role in ROLES[1:]:
        user = django_user_model.objects.create_user(
            role.lower().replace(" ", "-"), password="x", is_staff=True
        )
        user.groups.set(Group.objects.filter(name=role))
        users[role] = user
    return {"integration": integration, "users": users}


def concrete_path(url: Url, world) -> str:
    """The route with real ids of the world's objects (or an id that does not exist)."""
    if url.path:
        return url.path
    from django.apps import apps

    model = apps.get_model(*url.model) if url.model and url.model[1] != "*" else None
    obj = model._default_manager.order_by("pk").first() if model is not None else None
    pk = str(obj.pk) if obj is not None else "999999"
    route = url.route
    if "history/([^/]+)/$" in route:  # simple_history's revert page: object and history ids
        history = getattr(obj, "history", None)
        history_id = history.first().history_id if history is not None and history.exists() else 1
        route = route.replace("^([^/]+)/history/([^/]+)/$", f"{pk}/history/{history_id}/")
    if route.endswith("(?P<url>.*)$"):
        route = route.replace("(?P<url>.*)$", "no-such-page/")
    values = {
        "object_id": pk,
        "pk": pk,
        "link_id": _first_pk("integrations", "link"),
        "id": _first_pk("auth", "user"),
        "integration": world["integration"].slug,
        "slug": world["integration"].slug,
        "source": "prestashop",
        "content_type_id": "1",
    }

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name.endswith("_pk") and model is not None:
            # A row addressed under its parent (mapping-sets/<set_pk>/fields/<pk>/): the
            # parent of the row used for <pk>.
            return _parent_pk(model, obj)
        assert name in values, f"{url.route}: no value for URL parameter {name!r}; add one"
        return values[name]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def _parent_pk(model, obj) -> str:
    parent = next(
        (f for f in model._meta.concrete_fields if f.many_to_one and f.related_model),
        None,
    )
    assert parent is not None, f"{model._meta.label}: no parent for a <..._pk> parameter"
    if obj is not None:
        return str(getattr(obj, parent.attname))
    first = parent.related_model._default_manager.order_by("pk").first()
    return str(first.pk) if first else "999999"


def _first_pk(app: str, model: str) -> str:
    from django.apps import apps

    obj = apps.get_model(app, model)._default_manager.order_by("pk").first()
    return str(obj.pk) if obj else "999999"


def client_for(role: str, world) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def outcome(response) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status == 302 and "/login/" in location:
        return DENY
    if status in (401, 403, 404):
        return DENY  # 404: the admin's app index for an app the user cannot see
    if status == 405:
        return "method"
    return ALLOW


def request(client: Client, method: str, path: str):
    """One request in a savepoint that is rolled back (a permitted delete changes nothing)."""
    with transaction.atomic():
        if method == "GET":
            response = client.get(path, HTTP_ACCEPT="text/html,application/json")
        elif method == "PATCH":
            response = client.patch(path, data="{}", content_type="application/json")
        else:
            response = client.post(path, data={})
        transaction.set_rollback(True)
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS, ids=lambda u: u.name or u.route)
def test_each_url_as_each_role(url, world, settings):
    settings.API_THROTTLE_RATE = "100000/min"
    rule = rule_for(url)
    if rule is None:
        pytest.fail(f"{url.name or url.route}: no policy entry (see test_every_url_has_a_policy)")
    path = concrete_path(url, world)
    missing = "999999" in path
    problems = []
    for method in ("GET", "POST", "PATCH"):
        need = rule.needs(method, url)
        if need is None:
            continue
        for role in ROLES:
            want = expected(role, need)
            response = request(client_for(role, world), method, path)
            got = outcome(response)
            status = response.status_code
            if status >= 500:
                problems.append(f"{role} {method} {path}: {status}")
            elif want == SIGNED and not (400 <= status < 500):
                problems.append(f"{role} {method} {path}: {status}, want a 4xx without signature")
            elif want == SIGNED_IN and role == "anonymous" and got != DENY:
                problems.append(f"{role} {method} {path}: {status}, sign-in required")
            elif want == STAFF and got == DENY:
                problems.append(f"{role} {method} {path}: {status}, any staff member may")
            elif want == DENY and missing and status == 302:
                pass  # the admin says "no such object" before asking who you are; no content
            elif want == DENY and got != DENY:
                problems.append(f"{role} {method} {path}: {status}, the policy says no")
            elif want == ALLOW and missing and status in (302, 404):
                pass  # no such object: a permitted user is told so, as the admin does
            elif want == ALLOW and (got == DENY or (method == "GET" and status >= 400)):
                problems.append(f"{role} {method} {path}: {status}, the policy says yes")
    assert not problems, "\n".join(problems)


# -------------------------------------------------------------------------- admin actions


def all_actions() -> list[tuple[type, str]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        names = {a.__name__ if callable(a) else a for a in (model_admin.actions or ())}
        names |= {name for name, _ in admin.site.actions}  # delete_selected
        found += [(model, name) for name in sorted(names)]
    return found


ACTIONS = all_actions()


def _action_function(model_admin, name: str):
    for action in model_admin.actions or ():
        if callable(action) and action.__name__ == name:
            return action
    found = model_admin.get_action(name)
    return found[0] if found else None


def test_every_action_has_a_policy():
    undeclared, unknown = [], []
    for model, name in ACTIONS:
        func = _action_function(admin.site._registry[model], name)
        permissions = getattr(func, "allowed_permissions", ())
        if not permissions and f"{model._meta.label}.{name}" not in THIRD_PARTY_UNDECLARED:
            undeclared.append(f"{model._meta.label}.{name}")
        unknown += [
            f"{model._meta.label}.{name}: {p}" for p in permissions if p not in ACTION_VERBS
        ]
    assert not undeclared, f"admin actions without permissions=[...]: {undeclared}"
    assert not unknown, f"action permissions with no verb in ACTION_VERBS: {unknown}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "name"), ACTIONS, ids=[f"{m._meta.label}.{n}" for m, n in ACTIONS]
)
def test_each_action_as_each_role(model, name, world, monkeypatch):
    """POST the action from the changelist as each role; a spy says whether it ran.

    The spy wraps what the admin's own get_actions() returns, after its permission filter, so
    "ran" means the admin executed the action for that user.
    """
    model_admin = admin.site._registry[model]
    func = _action_function(model_admin, name)
    app, model_name = model._meta.app_label, model._meta.model_name
    verbs = [ACTION_VERBS.get(p, p) for p in getattr(func, "allowed_permissions", ())]
    ran: list[str] = []
    original = model_admin.get_actions

    def spied_actions(request):
        def spy(action):
            def run(modeladmin, req, queryset):
                ran.append(req.user.username)
                return action(modeladmin, req, queryset)

            return run

        return {k: (spy(f), n, d) for k, (f, n, d) in original(request).items()}

    monkeypatch.setattr(model_admin, "get_actions", spied_actions)
    changelist = f"/admin/{app}/{model_name}/"
    pk = _first_pk(app, model_name)
    problems = []
    for role in ROLES:
        want = verbs and all(may(role, v, app, model_name) for v in verbs)
        ran.clear()
        client = client_for(role, world)
        with transaction.atomic():
            response = client.post(
                changelist, {"action": name, "_selected_action": [pk], "index": "0"}
            )
            transaction.set_rollback(True)
        status = response.status_code
        if status >= 500:
            problems.append(f"{role}: {status}")
        elif want and not ran:
            problems.append(f"{role} could not run {name} ({status}); the policy says yes")
        elif not want and ran:
            problems.append(f"{role} ran {name} ({status}); the policy says no")
    assert not problems, f"{model._meta.label}.{name}:\n" + "\n".join(problems)

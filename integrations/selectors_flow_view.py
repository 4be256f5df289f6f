"""Reads behind the flow view: each flow drawn as its steps (extract → transform → validate →
load → reconcile), with how many records wait, fail and passed at each step.

One grouped query counts records per (integration, flow, step, status); the boxes are built
from those few dozen groups, never from the records. Each count carries the record list's
filter that shows exactly those records (the admin changelist's own lookups), so a count and
the list it links to cannot disagree.

Where a record is, the pipeline decides (integrations/pipeline.py): `step` is the step its last
run stopped at (or reached), `status` how that run ended. A record not run yet (step blank) is
at extract. A record that succeeded went through every step; one resolved by hand stays at
the step it failed at.

Which records are counted: every open record (pending, running, retrying, needs attention,
dead) whatever its age, since those are what someone must look at; finished ones (passed,
skipped, resolved) only over PASSED_WINDOW, by their last update. The query reads the
syncrecord_due index (status first) for the first and syncrecord_console_updated
(updated_at) for the second, OR-ed as one bitmap scan on PostgreSQL.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from integrations.models import OPEN_STATUSES, Integration, Status, Step, SyncRecord
from integrations.pipeline import STEPS

# How far back finished records count as "passed" (open records count whatever their age).
PASSED_WINDOW = timedelta(hours=24)

WAITING = (Status.PENDING, Status.RETRYING)
FAILED = (Status.NEEDS_ATTENTION, Status.DEAD)
STEP_INDEX = {step: index for index, step in enumerate(STEPS)}


@dataclass
class StepCount:
    """How many records, and the record list's filter that lists exactly them."""

    n: int = 0
    filters: dict[str, str] = field(default_factory=dict)


@dataclass
class StepBox:
    step: str
    label: str
    waiting: StepCount
    running: StepCount
    failed: StepCount
    dead: StepCount
    passed: StepCount
    skipped: StepCount
    # None at the last step: a record that succeeded there passed it, whoever closed it.
    resolved: StepCount | None

    KINDS = ("waiting", "running", "failed", "dead", "passed", "skipped", "resolved")

    def counts(self) -> dict[str, StepCount]:
        """The counts this box has, by kind."""
        return {kind: count for kind in self.KINDS if (count := getattr(self, kind)) is not None}


@dataclass
class FlowPicture:
    integration_id: int
    integration_slug: str
    integration_name: str
    flow: str
    steps: list[StepBox]

    @property
    def key(self) -> str:
        return f"{self.integration_id}:{self.flow}"

    @property
    def open(self) -> int:
        return sum(box.waiting.n + box.running.n + box.failed.n for box in self.steps)


def record_position(step: str) -> str:
    """The step box a record is drawn in: its step, or extract when it has not run yet."""
    return step or Step.EXTRACT


def _step_filter(step: str) -> dict[str, str]:
    # A record not run yet has a blank step and is drawn at extract, so extract lists both.
    if step == Step.EXTRACT:
        return {"step__in": f",{Step.EXTRACT}"}
    return {"step__exact": step}


def _box_filters(
    *, integration_id: int, flow: str, step: str, since: datetime
) -> dict[str, dict[str, str]]:
    """The changelist filters behind each count of one box."""
    base = {"integration__id__exact": str(integration_id), "flow": flow}
    at_step = {**base, **_step_filter(step)}
    recent = {"updated_at__gte": since.isoformat()}
    later = STEPS[STEP_INDEX[step] + 1 :]
    if later:
        passed = {**base, "step__in": ",".join(later), **recent}
    else:
        # Past the last step means finished well through the pipeline.
        passed = {**at_step, "status__exact": Status.SUCCEEDED, **recent}
    filters = {
        "waiting": {**at_step, "status__in": ",".join(WAITING)},
        "running": {**at_step, "status__exact": Status.RUNNING},
        "failed": {**at_step, "status__in": ",".join(FAILED)},
        "dead": {**at_step, "status__exact": Status.DEAD},
        "passed": passed,
        "skipped": {**at_step, "status__exact": Status.SKIPPED, **recent},
    }
    if later:
        # Succeeded short of the last step: closed by a person, not by the pipeline.
        filters["resolved"] = {**at_step, "status__exact": Status.SUCCEEDED, **recent}
    return filters


def flow_step_groups(*, since: datetime, integration_id: int | None = None) -> list[dict[str, Any]]:
    """Records per (integration, flow, step, status): `total` (any age; used for open
    statuses) and `recent` (updated since `since`; used for finished ones)."""
    records = SyncRecord.objects.filter(Q(status__in=OPEN_STATUSES) | Q(updated_at__gte=since))
    if integration_id is not None:
        records = records.filter(integration_id=integration_id)
    return list(
        records.values("integration_id", "flow", "step", "status")
        .annotate(total=Count("id"), recent=Count("id", filter=Q(updated_at__gte=since)))
        .order_by()
    )


def _empty_box(*, integration_id: int, flow: str, step: str, since: datetime) -> StepBox:
    filters = _box_filters(integration_id=integration_id, flow=flow, step=step, since=since)
    return StepBox(
        step=step,
        label=Step(step).label,
        **{
            kind: StepCount(0, filters[kind]) if kind in filters else None for kind in StepBox.KINDS
        },
    )


def flow_pictures(
    *, integration: Integration | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Every flow of one integration (or of all) as its step boxes with their counts.

    Flows shown: those the integrations enable plus any that has records to count (a flow
    switched off with records still stuck must stay visible).
    """
    now = now or timezone.now()
    # Whole seconds, so the window written into the links is exactly the one counted.
    since = (now - PASSED_WINDOW).replace(microsecond=0)
    # Only what the page shows: the rest (encrypted secrets among it) is not read at all.
    integrations = Integration.objects.only("slug", "name", "enabled_flows").order_by("slug")
    if integration is not None:
        integrations = integrations.filter(pk=integration.pk)
    by_id = {i.pk: i for i in integrations}
    groups = flow_step_groups(
        since=since, integration_id=integration.pk if integration is not None else None
    )

    pictures: dict[tuple[int, str], FlowPicture] = {}

    def picture(integration_id: int, flow: str) -> FlowPicture:
        key = (integration_id, flow)
        if key not in pictures:
            owner = by_id[integration_id]
            pictures[key] = FlowPicture(
                integration_id=integration_id,
                integration_slug=owner.slug,
                integration_name=str(owner),
                flow=flow,
                steps=[
                    _empty_box(integration_id=integration_id, flow=flow, step=step, since=since)
                    for step in STEPS
                ],
            )
        return pictures[key]

    for owner in by_id.values():
        for flow in owner.enabled_flows or []:
            picture(owner.pk, flow)

    for group in groups:
        position = record_position(group["step"])
        if position not in STEP_INDEX or group["integration_id"] not in by_id:
            continue  # a step the pipeline never writes; nothing to draw it in
        boxes = picture(group["integration_id"], group["flow"]).steps
        index, status = STEP_INDEX[position], group["status"]
        box = boxes[index]
        if status in WAITING:
            box.waiting.n += group["total"]
        elif status == Status.RUNNING:
            box.running.n += group["total"]
        elif status in FAILED:
            box.failed.n += group["total"]
            if status == Status.DEAD:
                box.dead.n += group["total"]
        elif status == Status.SKIPPED:
            box.skipped.n += group["recent"]
        elif status == Status.SUCCEEDED:
            if index == len(STEPS) - 1:
                box.passed.n += group["recent"]
            else:
                box.resolved.n += group["recent"]
        # Whatever its status, a record at this step went through the steps before it.
        for earlier in boxes[:index]:
            earlier.passed.n += group["recent"]

    return {
        "now": now,
        "since": since,
        "flows": sorted(pictures.values(), key=lambda p: (p.integration_slug, p.flow)),
    }

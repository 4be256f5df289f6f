"""Receivers that keep the compile cache honest: any change to a set's rows bumps its version.

Value maps are shared, so a change to one bumps every set (a handful of rows): cheaper than
tracking which set uses which map, and every worker process sees it on its next record.
"""

from typing import Any

from mappings.models import mapping_sets_touch


def mapping_row_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    mapping_sets_touch(pk=instance.mapping_set_id)


def value_map_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    mapping_sets_touch()

"""Target field catalogs: what a system accepts, for the mapping editor and validation.

Each connector publishes its catalog as data (a tuple of TargetField per operation); the
mappings app reads them for choices and checks every mapped value against them.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    STRING = "string"  # M3 type A
    NUMBER = "number"  # M3 type N (decimal)
    INTEGER = "integer"
    DATE = "date"  # M3 type D
    DATETIME = "datetime"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class TargetField:
    name: str
    type: FieldType = FieldType.STRING
    max_length: int | None = None
    required: bool = False
    allowed_values: tuple[str, ...] = ()
    description: str = ""
    # Digits after the decimal point for numbers (M3: e.g. 15,6 for prices), if limited.
    decimals: int | None = None


@dataclass(frozen=True)
class Catalog:
    """The fields of one target operation, e.g. infor_m3 / OIS100MI.AddBatchHead."""

    system: str
    operation: str
    fields: tuple[TargetField, ...]
    description: str = ""
    by_name: dict[str, TargetField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def get(self, name: str) -> TargetField | None:
        return self.by_name.get(name)

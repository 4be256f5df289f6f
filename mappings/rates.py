"""Currency rates for currency_convert: the CurrencyRate table, rate of the document's date."""

from datetime import date
from decimal import Decimal

from mappings.models import CurrencyRate


class DatabaseRates:
    """Rates from the CurrencyRate table, remembered for the life of this object (one record).

    The rate of exactly that date is used: a missing day is an error the ops team fixes by
    importing the rate, not a silent use of some older rate. A rate stored the other way round
    (CHF→EUR when EUR→CHF is asked) is inverted.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[date, str, str], Decimal | None] = {}

    def rate(self, day: date, from_currency: str, to_currency: str) -> Decimal | None:
        key = (day, from_currency, to_currency)
        if key not in self._seen:
            self._seen[key] = self._lookup(day, from_currency, to_currency)
        return self._seen[key]

    @staticmethod
    def _lookup(day: date, from_currency: str, to_currency: str) -> Decimal | None:
        rows = dict(
            CurrencyRate.objects.filter(
                date=day,
                from_currency__in=(from_currency, to_currency),
                to_currency__in=(from_currency, to_currency),
            ).values_list("from_currency", "rate")
        )
        if from_currency in rows:
            return rows[from_currency]
        if to_currency in rows:
            return Decimal(1) / rows[to_currency]
        return None


class FixedRates:
    """Rates given as a dict {(date, 'EUR', 'CHF'): Decimal}: for tests, previews, benchmarks."""

    def __init__(self, rates: dict[tuple[date, str, str], Decimal]) -> None:
        self.rates = rates

    def rate(self, day: date, from_currency: str, to_currency: str) -> Decimal | None:
        return self.rates.get((day, from_currency, to_currency))

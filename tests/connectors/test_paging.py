import pytest

from connectors.errors import DataError
from connectors.paging import CursorPaginator, OffsetPaginator, PagedReader, PagePaginator


def test_offset_paging_reads_until_an_empty_page():
    data = list(range(23))
    calls = []

    def fetch(offset):
        calls.append(offset)
        return data[offset : offset + 10], None

    assert list(PagedReader(OffsetPaginator(10), fetch)) == data
    assert calls == [0, 10, 20, 23]


def test_page_paging_stops_at_the_reported_total():
    pages = {1: ["a", "b"], 2: ["c"]}
    reader = PagedReader(PagePaginator(2, total_pages=lambda r: 2), lambda p: (pages[p], None))
    assert list(reader) == ["a", "b", "c"]


def test_cursor_paging_follows_the_cursor():
    pages = {None: (["a"], {"next": "x"}), "x": (["b"], {"next": None})}
    reader = PagedReader(CursorPaginator(lambda r: r["next"]), lambda c: pages[c])
    assert list(reader) == ["a", "b"]


def test_a_repeated_cursor_is_refused_instead_of_looping():
    reader = PagedReader(CursorPaginator(lambda r: "same"), lambda c: (["x"], {}))
    with pytest.raises(DataError, match="twice"):
        list(reader)


def test_paging_is_lazy():
    fetched = []

    def fetch(offset):
        fetched.append(offset)
        return [offset], None

    iterator = iter(PagedReader(OffsetPaginator(1), fetch))
    assert next(iterator) == 0
    assert fetched == [0]

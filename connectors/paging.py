"""Paginators: tiny objects that say where the next page is (after singer-sdk's pagination).

A paginator is data, not a loop: `next_token(response_page)` returns the token for the next
page or None when there is none; `advance` refuses a token seen before, so a server that
repeats a page cannot send us round in circles.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from connectors.errors import DataError

T = TypeVar("T")


class Paginator:
    """Base: subclasses implement `first()` and `next_token(items, response)`."""

    def __init__(self) -> None:
        self._seen: set[Any] = set()
        self.token: Any = None

    def first(self) -> Any:
        raise NotImplementedError

    def next_token(self, items: Sequence[Any], response: Any) -> Any:
        raise NotImplementedError

    def start(self) -> Any:
        self.token = self.first()
        self._seen = {self._key(self.token)}
        return self.token

    def advance(self, items: Sequence[Any], response: Any = None) -> Any:
        token = self.next_token(items, response)
        if token is None:
            return None
        key = self._key(token)
        if key in self._seen:
            raise DataError(
                f"paging loops: the server returned page token {token!r} twice",
                field="page",
                value=token,
            )
        self._seen.add(key)
        self.token = token
        return token

    @staticmethod
    def _key(token: Any) -> Any:
        return repr(token)


class OffsetPaginator(Paginator):
    """limit/offset paging until a short or empty page (PrestaShop: limit=offset,count).

    `stop_on_short_page=False` keeps asking until an empty page, for APIs whose page may come
    back short before the end.
    """

    def __init__(self, page_size: int, *, start: int = 0, stop_on_short_page: bool = False) -> None:
        super().__init__()
        self.page_size = page_size
        self.start_offset = start
        self.stop_on_short_page = stop_on_short_page

    def first(self) -> int:
        return self.start_offset

    def next_token(self, items: Sequence[Any], response: Any) -> int | None:
        if not items or (self.stop_on_short_page and len(items) < self.page_size):
            return None
        return int(self.token) + len(items)


class PagePaginator(Paginator):
    """page=1,2,3… until an empty page or a page past the reported total."""

    def __init__(self, page_size: int, *, total_pages: Callable[[Any], int | None] | None = None):
        super().__init__()
        self.page_size = page_size
        self._total_pages = total_pages

    def first(self) -> int:
        return 1

    def next_token(self, items: Sequence[Any], response: Any) -> int | None:
        if not items:
            return None
        if self._total_pages is not None:
            total = self._total_pages(response)
            if total is not None and int(self.token) >= total:
                return None
        return int(self.token) + 1


class CursorPaginator(Paginator):
    """An opaque next-page cursor read from the response by `cursor_of`."""

    def __init__(self, cursor_of: Callable[[Any], Any]) -> None:
        super().__init__()
        self._cursor_of = cursor_of

    def first(self) -> None:
        return None

    def next_token(self, items: Sequence[Any], response: Any) -> Any:
        return self._cursor_of(response) or None


class PagedReader(Generic[T]):
    """Streams items page by page with flat memory: only one page is held at a time.

    `fetch(token)` returns (items, response) for a page token.
    """

    def __init__(self, paginator: Paginator, fetch: Callable[[Any], tuple[Sequence[T], Any]]):
        self.paginator = paginator
        self.fetch = fetch

    def __iter__(self) -> Iterator[T]:
        token = self.paginator.start()
        while True:
            items, response = self.fetch(token)
            yield from items
            token = self.paginator.advance(items, response)
            if token is None:
                return

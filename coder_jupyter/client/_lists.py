"""Lists returned by the client: plain ``list`` subclasses that render as tables and convert to pandas."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

from ._html import templates_table_html, workspaces_table_html
from .models import CoderModel, Template, Workspace

__all__ = ["ModelList", "TemplateList", "WorkspaceList"]

M = TypeVar("M", bound=CoderModel)


def _dataframe(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "to_dataframe() needs pandas: pip install 'coder-jupyter[pandas]' (or pip install pandas)."
        ) from None
    return pd.DataFrame(rows, columns=columns)


class ModelList(list[M], Generic[M]):
    """A ``list`` of models with an HTML table repr and :meth:`to_dataframe`."""

    _columns: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __repr__(self) -> str:
        name = type(self).__name__
        if len(self) > 10:
            shown = ", ".join(repr(x) for x in self[:10])
            return f"{name}([{shown}, … {len(self) - 10} more])"
        return f"{name}({list.__repr__(self)})"

    def _repr_html_(self) -> str:
        return f"<code>{len(self)} items</code>"

    def to_dataframe(self) -> Any:
        """A :class:`pandas.DataFrame`, one row per item (needs the ``pandas`` extra)."""
        columns = type(self)._columns
        rows = [{k: f(item) for k, f in columns.items()} for item in self]
        return _dataframe(rows, list(columns))


class WorkspaceList(ModelList[Workspace]):
    """What ``coder.workspaces()`` returns. ``total`` is the count the server reported."""

    _columns: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "owner_name": lambda w: w.owner_name,
        "name": lambda w: w.name,
        "status": lambda w: w.status,
        "template_name": lambda w: w.template_name,
        "transition": lambda w: w.latest_build.transition,
        "build_number": lambda w: w.latest_build.build_number,
        "healthy": lambda w: w.health.healthy,
        "outdated": lambda w: w.outdated,
        "organization_name": lambda w: w.organization_name,
        "created_at": lambda w: w.created_at,
        "last_used_at": lambda w: w.last_used_at,
        "id": lambda w: w.id,
    }

    def __init__(self, items: Iterable[Workspace] = (), *, count: int | None = None) -> None:
        super().__init__(items)
        #: How many workspaces matched on the server (more than ``len()`` when ``limit=`` was used).
        self.total: int = len(self) if count is None else count

    def _repr_html_(self) -> str:
        return workspaces_table_html(list(self))


class TemplateList(ModelList[Template]):
    """What ``coder.templates()`` returns."""

    _columns: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "name": lambda t: t.name,
        "display_name": lambda t: t.display_name,
        "description": lambda t: t.description,
        "organization_name": lambda t: t.organization_name,
        "deprecated": lambda t: t.deprecated,
        "active_version_id": lambda t: t.active_version_id,
        "created_at": lambda t: t.created_at,
        "id": lambda t: t.id,
    }

    def _repr_html_(self) -> str:
        return templates_table_html(list(self))

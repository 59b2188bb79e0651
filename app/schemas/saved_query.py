"""Query strings saved in a document (a timeline view's filters, a calendar feed's)."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list or any(_is_list(a) for a in get_args(annotation))


class SavedQuery(BaseModel):
    """Mixed into a route's query model, it validates saved parameters as that query string is
    validated, with no unknown keys; like a repeated query parameter, a single value stands for
    a list of one."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _single_values_as_lists(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        lists = {name for name, f in cls.model_fields.items() if _is_list(f.annotation)}
        return {k: [v] if k in lists and isinstance(v, str) else v for k, v in data.items()}

    def saved(self) -> dict[str, Any]:
        """The parameters given, as query values: what the route's query model reads back
        (with the request's own parameters merged over them)."""
        return self.model_dump(mode="json", exclude_unset=True)

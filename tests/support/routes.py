"""The dashboard's routes as data, found by walking the live FastAPI application.

Security tests iterate over these instead of a hand-kept list, so a route added later is covered
without anyone remembering to add it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.params import Form
from starlette.convertors import IntegerConvertor
from starlette.routing import Mount

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Target:
    method: str
    template: str  # the path with its {parameters}
    route: Any  # a Starlette/FastAPI route, or FastAPI's per-route context of an included router

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def int_params(self) -> list[str]:
        """Path parameters the handler takes as integers."""
        dependant = getattr(self.route, "dependant", None)
        names = [
            f.name for f in _all(dependant, "path_params") if getattr(f.field_info, "annotation", None) is int
        ]
        convertors = getattr(self.route, "param_convertors", {})
        names += [n for n, c in convertors.items() if isinstance(c, IntegerConvertor) and n not in names]
        return names

    def body_fields(self) -> tuple[list[str], bool]:
        """The names of the body fields and whether they are form fields (else JSON)."""
        fields = _all(getattr(self.route, "dependant", None), "body_params")
        is_form = all(isinstance(f.field_info, Form) for f in fields)
        names: list[str] = []
        for f in fields:
            model_fields = getattr(getattr(f.field_info, "annotation", None), "model_fields", None)
            if not is_form and model_fields and len(fields) == 1:
                names.extend(model_fields)
            else:
                names.append(f.alias or f.name)
        return names, is_form

    def fill(self, values: Mapping[str, str], default: str) -> str:
        """The path with each parameter from ``values`` (``default`` for names not there)."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(":")[0]
            return values.get(name, default)

        return re.sub(r"{([^}]+)}", value, self.template)


def routes(web: FastAPI, methods: Iterable[str] | None = None) -> list[Target]:
    """Every (method, route) of the app, through included routers and mounts with routes."""
    wanted = set(methods) if methods is not None else None
    found: list[Target] = []

    def walk(items: list[Any], prefix: str) -> None:
        for route in items:
            contexts = getattr(route, "effective_route_contexts", None)
            if callable(contexts):
                # Newer FastAPI keeps included routers as lazy branches; their contexts carry the
                # full path, methods, convertors and dependant of each route.
                walk(list(contexts()), prefix)
                continue
            if isinstance(route, Mount):
                inner = list(getattr(route, "routes", None) or [])
                if inner:
                    walk(inner, prefix + route.path)
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                if wanted is None or method in wanted:
                    found.append(Target(method, prefix + getattr(route, "path", ""), route))

    walk(list(web.routes), "")
    return found


def opaque_mounts(web: FastAPI) -> list[str]:
    """Mounted sub-applications whose routes cannot be listed (reviewed by hand)."""
    return [r.path for r in web.routes if isinstance(r, Mount) and not (getattr(r, "routes", None) or [])]


def _all(dependant: Any, attribute: str) -> list[Any]:
    if dependant is None:
        return []
    found = list(getattr(dependant, attribute))
    for sub in dependant.dependencies:
        found += [f for f in _all(sub, attribute) if f not in found]
    return found

"""JSON API for project resources (used by the dashboard's pages and by scripts with a session)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/projects", tags=["projects"])

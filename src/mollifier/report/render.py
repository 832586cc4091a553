"""Render a :class:`~mollifier.report._model.Page` to HTML with Jinja2 (autoescaped)."""

from __future__ import annotations

from typing import Any

from mollifier.report._model import Page

__all__ = ["render"]

_ENV: list[Any] = []


def _environment() -> Any:
    """The Jinja2 environment over the package's templates, with autoescaping on everything."""
    if not _ENV:
        try:
            import jinja2
        except ImportError as exc:
            raise ImportError(
                "writing report.html needs Jinja2: pip install 'mollifier[report]'"
            ) from exc
        _ENV.append(
            jinja2.Environment(
                loader=jinja2.PackageLoader("mollifier.report", "templates"),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
        )
    return _ENV[0]


def render(page: Page) -> str:
    """The page as one self-contained HTML document (inline CSS, figures as ``data:`` URIs, a
    Content-Security-Policy that forbids every request)."""
    from mollifier import __version__

    return str(_environment().get_template("report.html.j2").render(page=page, version=__version__))

"""Dependencies shared by the API's routers: the container of the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from pitchlens.infrastructure.bootstrap import Container


def get_container(request: Request) -> Container:
    factory: Callable[[], Container] = request.app.state.container_factory
    return factory()


Wired = Annotated[Container, Depends(get_container)]

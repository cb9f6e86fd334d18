"""The controllers the controller-manager can run, by name (`--controllers`)."""

from __future__ import annotations

from collections.abc import Callable

from hakube.controllers.base import Controller

# name -> factory. Each controller module adds its line here.
CONTROLLERS: dict[str, Callable[[], Controller]] = {}

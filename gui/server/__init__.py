"""The GUI's HTTP server (aiohttp): the one part of `gui` that speaks HTTP.

Its modules: gui.server.app (the application: routes, lifecycle, serving), gui.server.access
(who is asking and what they may do: sign-in, the guard middleware, error answers),
gui.server.stream (the SSE feed) and gui.server.api (the JSON API). Everything else in `gui`
is plain Python the handlers call.
"""

from gui.server.access import HUB_KEY
from gui.server.app import FLUSH_INTERVAL, make_app, serve

__all__ = ["FLUSH_INTERVAL", "HUB_KEY", "make_app", "serve"]

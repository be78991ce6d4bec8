"""Training web console over a lab: admin center, SSPR portal, ADUC, GPO, Connect, Event Viewer.

``serve_console(lab)`` serves it on loopback and yields the base URL; ``build_app(lab)``
gives the ASGI app for in-process use. See docs/console.md.
"""

from simlab.console.app import build_app, serve_console

__all__ = ["build_app", "serve_console"]

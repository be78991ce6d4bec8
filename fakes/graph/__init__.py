"""A fake Microsoft Graph / Entra tenant with self-service password reset.

Public entry points: :class:`~fakes.graph.tenant.Tenant` (the model),
:func:`~fakes.graph.app.build_app` (the ASGI app), :func:`~fakes.graph.mock.graph_mock` and
:func:`~fakes.graph.mock.serve_graph` (ways to run it), :func:`~fakes.graph.auth.make_token` and
:class:`~fakes.graph.auth.LabCredential` (tokens). See docs/graph.md.
"""

"""The fake DC on the wire: LDAP, LDAPS and StartTLS served by Twisted/ldaptor.

``serve_dc(dc)`` is the entry point; see :mod:`fakes.ad.ldap.serve`.
"""

from fakes.ad.ldap.serve import DcEndpoints, serve_dc

__all__ = ["DcEndpoints", "serve_dc"]

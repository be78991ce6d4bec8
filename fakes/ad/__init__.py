"""A fake Active Directory domain controller: model, rules and operation API.

``dc.py`` and everything below it are plain Python (no Twisted); ``ldap/`` adapts
the operation API to the wire with ldaptor.
"""

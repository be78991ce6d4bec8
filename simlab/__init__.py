"""simlab: an offline lab for Entra SSPR with password writeback to Active Directory."""

__version__ = "0.1.0"

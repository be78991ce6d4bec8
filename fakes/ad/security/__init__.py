"""AD security mechanics: security descriptors (binary/SDDL), inheritance and access checks.

GUID-agnostic: callers pass schemaIDGUIDs, property-set GUIDs and control-access-right GUIDs.
"""

from .descriptor import Ace, Acl, SecurityDescriptor, SecurityDescriptorError

__all__ = ["Ace", "Acl", "SecurityDescriptor", "SecurityDescriptorError"]

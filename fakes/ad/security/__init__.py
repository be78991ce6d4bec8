"""AD security mechanics: security descriptors (binary/SDDL), inheritance and access checks.

GUID-agnostic: callers pass schemaIDGUIDs, property-set GUIDs and control-access-right GUIDs.
"""

from .access import check_access, child_access, has_control_access, property_access, validated_write
from .descriptor import Ace, Acl, SecurityDescriptor, SecurityDescriptorError
from .inheritance import apply_sd_update, canonicalize, compute_descriptor, map_generic

__all__ = [
    "Ace",
    "Acl",
    "SecurityDescriptor",
    "SecurityDescriptorError",
    "apply_sd_update",
    "canonicalize",
    "check_access",
    "child_access",
    "compute_descriptor",
    "has_control_access",
    "map_generic",
    "property_access",
    "validated_write",
]

"""``simlab doctor``: diagnose SSPR writeback the way an admin would, from what an admin can read.

    from simlab.doctor import diagnose
    report = diagnose(lab, user="alice")
    print(report.to_text())

Sources: :class:`LabSource` (a running lab, read through LDAP, Connect's configuration page
and event log, the GPO editor and Graph/portal HTTP) or :class:`EndpointSource` (any LDAP +
Graph pair). Each :class:`Finding` carries the catalogue fault name as ``id``, verbatim
evidence and the fix. docs/doctor.md describes the checks.
"""

from simlab.doctor.engine import diagnose
from simlab.doctor.model import Check, Evidence, Finding, Report
from simlab.doctor.sources import EndpointSource, EventRecord, GpoView, LabSource, Source, as_source

__all__ = [
    "Check",
    "EndpointSource",
    "EventRecord",
    "Evidence",
    "Finding",
    "GpoView",
    "LabSource",
    "Report",
    "Source",
    "as_source",
    "diagnose",
]

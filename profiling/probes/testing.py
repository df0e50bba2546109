"""Conformance kit for probes: every probe and every test fake passes `check_probe`.

    from profiling.probes.testing import check_probe
    check_probe(MyProbe(), run)

It checks the declared contract: a ``name`` and an ``in_process`` flag; `available`
answers None or one non-empty line; `collect` never raises, returns a
`ProbeRecord` named after the probe with non-negative seconds, and an empty
record carries a note saying why; `close` may be called twice.
"""

from __future__ import annotations

from profiling.probes.base import ForwardRun, Probe, ProbeRecord


def check_probe(probe: Probe, run: ForwardRun) -> ProbeRecord | None:
    """Run the kit; returns the record `collect` gave (None when unavailable)."""
    assert isinstance(probe, Probe), f"{probe!r} does not satisfy the Probe protocol"
    assert isinstance(probe.name, str) and probe.name, "a probe needs a name"
    assert isinstance(probe.in_process, bool), "in_process must be a bool"
    reason = probe.available()
    assert reason is None or (isinstance(reason, str) and reason.strip() and "\n" not in reason), (
        f"available() must be None or one line, got {reason!r}"
    )
    record = None
    if reason is None:
        record = probe.collect(run)
        assert isinstance(record, ProbeRecord), f"collect() returned {record!r}"
        assert record.probe == probe.name, f"record names {record.probe!r}, not {probe.name!r}"
        assert record.seconds >= 0.0
        assert not record.empty or record.note, "an empty record must say why (note)"
    probe.close()
    probe.close()
    return record

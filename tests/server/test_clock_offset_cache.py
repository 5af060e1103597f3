"""The clock offset is read once per write transaction: never stale across transactions or processes."""

from __future__ import annotations

from mfa_harness.server.clock import ScenarioClock
from mfa_harness.server.storage import Store


def test_offset_cached_in_a_transaction_but_fresh_across_connections(tmp_path):
    db = str(tmp_path / "p.db")
    a, b = Store(db), Store(db)
    a.attach_clock(ScenarioClock(0.0, 1.0, a.clock_offset, wall=lambda: 100.0))
    assert a.clock.now() == 100.0
    with a.tx():
        assert a.clock.now() == 100.0
        a.advance_clock(5.0)                      # its own write inside the transaction is seen
        assert a.clock.now() == 105.0
    b.advance_clock(10.0)                         # another connection (another portal process)
    assert a.clock.now() == 115.0                 # outside a transaction: read fresh
    with a.tx():
        assert a.clock.now() == 115.0             # a new transaction does not keep the old value
        assert a.clock_offset() == 15.0
    b.advance_clock(1.0)
    with a.tx():
        assert a.clock.now() == 116.0
    a.close()
    b.close()

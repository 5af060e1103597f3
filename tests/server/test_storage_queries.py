"""Storage operations against the SQL they replaced: the budgets' inputs must not move."""

from __future__ import annotations

import itertools

from mfa_harness.server.storage import Store


def seeded_store() -> tuple[Store, int]:
    store = Store(":memory:")
    with store.tx():
        pid = store.add_partner("agency", "a@example.com", "h", None, "team@example.com", None)
        other = store.add_partner("agency", "b@example.com", "h", None, "team@example.com", None)
        rows = itertools.product(("pending", "done", "dead", "expired"), (10.0, 50.0, 100.0), (0, 1))
        for n, (status, st, answered) in enumerate(rows):
            for partner in (pid, other):
                cid = store.create_challenge(f"R{n}-{partner}", partner, "agency", st, st + 600, None)
                store.conn.execute("UPDATE challenges SET status = ? WHERE id = ?", (status, cid))
                store.conn.execute("INSERT INTO wrong_codes (partner_id, challenge_id, st, answered)"
                                   " VALUES (?, ?, ?, ?)", (partner, cid, st, answered))
    return store, pid


def test_wrong_codes_is_the_two_budget_queries_in_one_read() -> None:
    store, pid = seeded_store()
    join = "FROM wrong_codes w JOIN challenges c ON c.id = w.challenge_id WHERE w.partner_id = ? AND c.status != 'done'"
    for since in (0.0, 10.0, 49.0, 50.0, 100.0, 1000.0):
        hourly = [r[0] for r in store.conn.execute(f"SELECT w.st {join} AND w.st > ?", (pid, since))]
        unanswered = store.conn.execute(f"SELECT COUNT(*) {join} AND w.answered = 0", (pid,)).fetchone()[0]
        times, count = store.wrong_codes(pid, since)
        assert (sorted(times), count) == (sorted(hourly), unanswered), since
    times, count = store.wrong_codes(pid, 49.0)  # 3 live statuses x 2 times x answered or not; 3 x 3 unanswered
    assert sorted(times) == [50.0] * 6 + [100.0] * 6 and count == 9
    store.close()

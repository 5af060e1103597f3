"""Ctrl-C that always stops Locust: SIGINT handled by gevent's loop, not raised wherever Python is.

Python turns SIGINT into a KeyboardInterrupt raised in whatever code runs when the signal lands.
When that code is a ``__del__`` (geventhttpclient's ``HTTPSocketPoolResponse.__del__`` runs
for every response), Python prints "Exception ignored in ..." and the interrupt is gone: Locust
keeps running until ``-t`` ends. Seen as a hung Ctrl-C in about one run in three under load.
With gevent's signal handler, the signal only wakes the loop. The KeyboardInterrupt is then raised
in the main greenlet, where Locust waits for it, as gevent does for any KeyboardInterrupt.
"""

from __future__ import annotations

import signal

import gevent


def _interrupt() -> None:
    # runs in a greenlet of its own: from the loop, raise KeyboardInterrupt in the main greenlet, as
    # gevent's hub does with one it catches (raising it here would also print a traceback)
    hub = gevent.get_hub()
    hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)


def catch_ctrl_c() -> bool:
    """Take SIGINT over from Python, unless it is ignored (a forked worker, a background job, where
    the master or the shell decides). True when installed."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return False
    gevent.signal_handler(signal.SIGINT, _interrupt)
    return True

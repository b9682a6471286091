"""fangpin: the rules engine behind precise poverty-prevention insurance (精准防贫保险)."""

import os

__version__ = "0.1.0"

# polars allocates through its own jemalloc, which by default never hands freed pages back to the system
# (muzzy_decay_ms:-1): a screening that works one partition at a time would keep every partition's pages
# resident, and its peak would grow with the drop after all. Freed pages go back after a second, by a
# background thread: at once (dirty_decay_ms:0) every allocation faulted fresh pages in, 15M page faults and
# 37 s of system time at 1M households in 10 partitions (49.8 s wall), 75M faults and 225 s at 5M; kept a
# second, 3.2M faults and 15 s (37.5 s wall) for a peak 9 % higher (docs/scaling.md). Set before polars is
# first imported (fangpin's modules import it after this); an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0")

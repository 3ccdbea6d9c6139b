#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps one CPU for the measured process during a benchmark.

The machine is shared: compilers, tests and other engineers' runs land on the CPU the
benchmark pins siprecd to, and a CPU-time-per-packet figure then moves by 30% between runs of
one binary (their cache and scheduler traffic, not siprecd's work). This moves every task that
can be moved (user tasks; per-CPU kernel threads refuse and stay) to the other CPUs for the
length of the run, and puts them back afterwards. Tasks forked meanwhile inherit the narrowed
mask; "off" widens every task still narrowed to what it had, or to all online CPUs.

usage: cpu-fence.py on CPU STATEFILE     move everything else off CPU; remember the masks
       cpu-fence.py off STATEFILE        restore them
Prints one line saying how many tasks it moved or restored.
"""
import json
import os
import sys


def tasks():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for tid in os.listdir("/proc/%s/task" % pid):
                yield int(tid)
        except OSError:
            continue



def fence_on(cpu, state):
    everyone = set(range(os.cpu_count() or 1))
    rest = everyone - {cpu}
    if not rest:
        print("cpu-fence: one CPU only; nothing moved")
        return
    saved, moved, refused = {}, 0, 0
    for tid in tasks():
        try:
            mask = os.sched_getaffinity(tid)
            if cpu not in mask:
                continue
            narrowed = mask - {cpu}
            os.sched_setaffinity(tid, narrowed or rest)
            saved[tid] = sorted(mask)
            moved += 1
        except OSError:
            refused += 1  # per-CPU kernel threads, tasks that exited
    with open(state, "w") as f:
        json.dump({"cpu": cpu, "saved": saved}, f)
    print("cpu-fence: %d tasks moved off CPU %d for the run (%d stay: per-CPU kernel threads "
          "or gone)" % (moved, cpu, refused))


def fence_off(state):
    try:
        with open(state) as f:
            st = json.load(f)
    except OSError:
        return
    cpu, saved = st["cpu"], {int(k): set(v) for k, v in st["saved"].items()}
    allcpus = set(range(os.cpu_count() or 1))
    restored = 0
    for tid in tasks():
        try:
            mask = os.sched_getaffinity(tid)
            if tid in saved:
                want = saved[tid]
            elif cpu not in mask and mask == allcpus - {cpu}:
                want = allcpus  # forked during the run from a fenced parent
            else:
                continue
            if want != mask:
                os.sched_setaffinity(tid, want)
                restored += 1
        except OSError:
            continue
    os.unlink(state)
    print("cpu-fence: %d tasks given CPU %d back" % (restored, cpu))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "on":
        fence_on(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "off":
        fence_off(sys.argv[2])
    else:
        sys.exit(__doc__)

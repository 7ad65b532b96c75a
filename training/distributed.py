"""The process group of a launch with several ranks (torchrun), from the first training step to the command's end.

One group a process: the trainer joins it when it first needs it, and it stays up until the command ends, however
many runs the process trains (a decay soup trains the trunk, then each branch). It is not destroyed and made again
between them: under torchrun a new group can read the old group's addresses from the launcher's store, and a rank
then fails to connect to the other.

At the end it is destroyed explicitly, in order: a barrier (no rank tears its connections down while another still
talks to it), then `destroy_process_group`. A group left to the interpreter's exit is destroyed by C++ static
destructors, after Python has stopped, while gloo's threads still run: a rank that had finished could then die of
SIGABRT ("terminate called without an active exception") and torchrun reported the whole run as failed. After an
error there is no barrier (another rank may never reach it): the group is only destroyed.

That was not enough: one run in 30 beside a busy process still had a finished rank die of that SIGABRT after the
group was destroyed, inside torch's C++ teardown at the interpreter's exit. A rank that left a group therefore ends
with `exit_without_teardown`: its output flushed, its files already closed, then `os._exit`, so no C++ static
destructor runs beside the communication library's threads.
"""
from __future__ import annotations

import atexit
import sys


def join_process_group(backend: str) -> None:
    """Initialise the default process group (torchrun's env:// rendezvous) unless one exists. An exit hook destroys it
    (without a barrier) if the command's own `leave_process_group` did not, e.g. in a script that trains directly."""
    import torch.distributed as dist

    if dist.is_initialized():
        return
    dist.init_process_group(backend)
    atexit.register(leave_process_group, ok=False)


def leave_process_group(ok: bool = True) -> bool:
    """Destroy the default process group if there is one: after a barrier when `ok` (every rank finished its work),
    without one after an error. Returns whether there was one; a no-op in a process that never imported
    torch.distributed."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return False
    try:
        if ok:
            dist.barrier()
    finally:
        dist.destroy_process_group()
    return True


def exit_without_teardown(code: int) -> None:
    """End a rank now, with `code`: flush Python's output and logging, then `os._exit` (no interpreter finalization,
    no C++ static destructors). Only for a process whose work is done and whose files are closed."""
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)

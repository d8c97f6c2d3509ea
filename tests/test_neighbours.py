"""Ending one sandbox never reaches another: the kernel hands a freed PID namespace's number to the next one made,
so a sweep "of every process in the namespace" must only ever name a namespace this grader still holds."""

from __future__ import annotations

import os

import pytest

from grader.sandbox.limits import Limits
from grader.sandbox.process import WorkerProcess

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("needs_bwrap")]

LIMITS = Limits(cell_seconds=5.0, notebook_seconds=30.0, request_seconds=5.0, cpu_seconds=60)
ROUNDS = 24  # the kernel frees a namespace's number a moment after it ends, and gives it out again soon after


def started() -> WorkerProcess:
    worker = WorkerProcess("bwrap", LIMITS, {})
    worker.wait_ready()
    return worker


def test_ending_a_sandbox_never_kills_a_newer_one_that_got_its_namespace_number():
    ended: list[WorkerProcess] = []
    for _ in range(ROUNDS):
        new = started()
        try:
            for old in ended:
                old.kill()  # what a late clean-up of an ended grading does, while another grading runs
            assert new.alive, f"ending one sandbox killed another: {new.exit_reason()}"
        finally:
            new.stop()
        ended.append(new)


def test_the_namespaces_a_worker_sweeps_are_pinned_until_it_is_retired():
    worker = started()
    try:
        assert worker.namespaces
        held = {os.readlink(f"/proc/self/fd/{fd}") for fd in worker.namespace_fds}
        assert held == set(worker.namespaces)  # while it lives, no other sandbox can be given these numbers
    finally:
        worker.stop()
    assert not worker.namespaces and not worker.namespace_fds  # retired: nothing left to sweep, nothing held

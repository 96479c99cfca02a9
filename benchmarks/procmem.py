"""Run a command and sample the resident memory of its whole process tree (the benchmarks' peak-RSS figure).

    proc, out, err, peak_bytes = run_sampling_rss(cmd, cwd=None, interval=0.02)
"""
from __future__ import annotations

import subprocess
import threading

import psutil


def tree_rss(proc: psutil.Process) -> int:
    """Sum of the RSS of proc and all its descendants (processes that ended meanwhile count 0)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_sampling_rss(cmd: list[str], cwd=None, interval: float = 0.02) -> tuple[subprocess.Popen, str, str, int]:
    """Run cmd to completion (stdout/stderr captured as text), sampling its tree's RSS every `interval` seconds;
    return (the finished Popen, stdout, stderr, the largest sum seen in bytes)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = [0], threading.Event()

    def sample():
        try:
            ps = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                peak[0] = max(peak[0], tree_rss(ps))
            except psutil.Error:  # the command has just ended
                return
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    return proc, out, err, peak[0]

"""Polling helper shared by the job-manager tests."""
import time


def wait_until(pred, timeout: float = 120.0, every: float = 0.05) -> bool:
    """True as soon as ``pred()`` is true; False after ``timeout`` seconds."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return True
        time.sleep(every)
    return False

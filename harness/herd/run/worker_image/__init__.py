"""The herd's worker image: its build files (package data) and `ensure_worker_image`."""

from harness.herd.run.worker_image.build import ensure_worker_image, worker_suite

__all__ = ["ensure_worker_image", "worker_suite"]

"""The reopening herd: how much mail arrives when a receiver reopens after an outage."""

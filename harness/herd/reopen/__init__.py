"""The reopen experiment: real sender MTAs queue through an outage, then the receiver reopens.

The plan (`plan`), the sender containers (`senders`), the run (`experiment`), what it measured
(`measure`), the model asked about the same situation (`model`) and the report (`report`).
"""

"""The herd model: pure arithmetic over sender classes, from an outage to the reopening curve.

Sender classes (`sender_classes`, read from `schedule.json` or TOML by `loaders`), the fluid
model (`prediction`), and its reports (`json_format`, `report`, `plot`).
"""

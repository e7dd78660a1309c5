"""The Locust side of the herd run: what `locust -f` loads, as a package (see README.md here).

Importing Locust monkey-patches the interpreter with gevent, which the asyncio receiver cannot
live with, so nothing in `harness` imports these modules; `harness.herd.run.locust_run` finds
`locustfile.py` through `importlib.resources` and runs it in Locust subprocesses. The modules
import each other and the pure-Python parts of `harness` by package path, so the locustfile
also works by hand: `locust -f "$(mailstorm herd locustfile)"`. This `__init__` imports nothing.
"""

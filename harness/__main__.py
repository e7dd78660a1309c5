"""`python -m harness` is the `mailstorm` command."""

from harness.cli import main

raise SystemExit(main())

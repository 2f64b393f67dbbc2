"""`python -m assist`: what `assist dev` uses to start each service with the same interpreter."""

from .cli import main

raise SystemExit(main())

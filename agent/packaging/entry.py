"""The executable's entry point: PyInstaller freezes a script, not a console_scripts entry, so this is that script."""

from assist_agent.cli import main

raise SystemExit(main())

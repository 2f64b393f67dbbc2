"""Build the customer-side agent as one executable file for this platform, with PyInstaller.

    python agent/packaging/build_executable.py [--dist DIR]

writes DIR/assist-agent-<system>-<machine> (`assist-agent-linux-x86_64`, `assist-agent-windows-amd64.exe`,
`assist-agent-darwin-arm64`): Python and every dependency inside, so the customer's computer needs no Python.
PyInstaller builds only for the platform it runs on; docs/agent.md says how the Windows and macOS files are made.
`make agent` runs this when agent/src changed; the gateway serves the result at /downloads/.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
AGENT_SOURCE = PACKAGING.parent / "src"
PYNPUT_BACKENDS = {
    platform_name: [f"pynput.{part}.{backend}" for part in ("keyboard", "mouse")]
    + [f"pynput._util.{util}" for util in utils]
    for platform_name, backend, utils in (
        ("linux", "_xorg", ("xorg", "xorg_keysyms")),
        ("win32", "_win32", ("win32", "win32_vks")),
        ("darwin", "_darwin", ("darwin", "darwin_vks")),
    )
}


def executable_name(system: str | None = None, machine: str | None = None) -> str:
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    return f"assist-agent-{system}-{machine}" + (".exe" if system == "windows" else "")


def build(dist: Path) -> Path:
    import PyInstaller.__main__

    name = executable_name()
    dist.mkdir(parents=True, exist_ok=True)
    # PyInstaller's work files (analysis cache, the generated spec) stay out of the repository and of dist/.
    with tempfile.TemporaryDirectory(prefix="assist-agent-build-") as work:
        PyInstaller.__main__.run([
            str(PACKAGING / "entry.py"),
            "--onefile",
            "--name", name,
            "--distpath", str(dist),
            "--workpath", work,
            "--specpath", work,
            "--paths", str(AGENT_SOURCE),
            # The agent's platform modules and pynput's backend are imported by name at run time: analysis
            # cannot see them. (pynput's own hook imports pynput to list them, which fails without a display.)
            "--collect-submodules", "assist_agent",
            *[argument for module in PYNPUT_BACKENDS[sys.platform] for argument in ("--hidden-import", module)],
            "--noconfirm",
            "--clean",
            "--log-level", "WARN",
        ])
    built = dist / name
    if not built.is_file():
        sys.exit(f"PyInstaller reported success but {built} is missing")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="where the executable goes (default dist)")
    args = parser.parse_args(argv)
    if shutil.which("objdump") is None and platform.system() == "Linux":
        # PyInstaller needs binutils' objdump on Linux to find the shared libraries to bundle.
        print("warning: objdump not found (apt-get install binutils); PyInstaller may fail", file=sys.stderr)
    print(build(args.dist))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

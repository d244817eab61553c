"""The notify-filter's launcher: the executable Naemon runs, started as lean as Python allows.

    python -m preferences.launcher [PATH]

writes PATH (default: ``notify-filter`` beside this interpreter, where pip put the console
script and where ``NaemonNode.notify_paths`` looks when a node names no program) in place of
pip's console script. Naemon starts the filter once per contact and notification, so its
interpreter start is most of its cost: pip's script runs ``site`` (every ``.pth`` file of the
virtualenv, the editable-install hook) before it imports the filter. The launcher starts
Python with ``-I -S`` (isolated: no environment variables, no user site; no ``site`` at all)
and puts the directory that holds this package on ``sys.path`` itself: the checkout for an
editable install, ``site-packages`` for an installed one, computed when it is written. The
filter needs nothing else (the standard library and ``preferences``).

A launcher that cannot import the filter exits 1 with Python's traceback, never 86: the
gate form's command line then lets the notification out (fail open).

scripts/venv.sh writes it after installing the project; the Dockerfile's build stage too.
"""

from __future__ import annotations

import os
import sys

# The first comment line of every launcher: scripts/venv.sh looks for it to tell the launcher
# from pip's console script (which a reinstall of the project writes back).
MARKER = "# notify-filter launcher (python -m preferences.launcher)"
# Linux reads at most this much of a "#!" line (BINPRM_BUF_SIZE before 5.1) and splits nothing.
_SHEBANG_MAX = 127


def package_root() -> str:
    """The directory that holds the ``preferences`` package this interpreter imports."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def render(python: str, root: str) -> str:
    """The launcher's text for the interpreter ``python`` and the package directory ``root``."""
    shebang = f"#!{python} -IS"
    if len(shebang) > _SHEBANG_MAX or any(char.isspace() for char in python):
        # The kernel cannot pass such a path: start through sh, as pip does for its scripts
        # (both lines are also a Python string expression).
        quoted = python.replace("'", "'\"'\"'")
        shebang = f"#!/bin/sh\n'''exec' '{quoted}' -IS \"$0\" \"$@\"\n' '''"
    return (
        f"{shebang}\n"
        f"{MARKER}\n"
        "# -I -S: no site, no .pth files, no PYTHON* variables; the filter needs only the standard\n"
        "# library and its own package, put on the path here (appended: the standard library wins).\n"
        "import sys\n"
        f"sys.path.append({root!r})\n"
        "from preferences.notify_filter import main\n"
        "sys.exit(main())\n"
    )


def install(path: str, python: str, root: str) -> None:
    """Write the launcher to ``path`` atomically: a notification starting meanwhile finds one or the other."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(render(python, root))
        os.chmod(temporary, 0o755)  # noqa: S103 - an executable every user (Naemon's) may run
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    """Write the launcher for this interpreter and this package; 2 on a usage error."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or any(arg.startswith("-") for arg in args):
        sys.stderr.write("usage: python -m preferences.launcher [PATH]\n")
        return 2
    # sys.executable, not its resolved target: the virtualenv's python is what finds the venv.
    path = args[0] if args else os.path.join(os.path.dirname(sys.executable), "notify-filter")
    install(path, sys.executable, package_root())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

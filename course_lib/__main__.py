"""The course's commands, one entry point:

    python -m course_lib data prepare [NAME ...] [--root DIR]     fetch and verify the data sets
    python -m course_lib pretrain MODEL [--profile P] [--epochs N]  train a model for course_lib/pretrained/

(``python -m course_lib.data`` would run a module that ``import course_lib`` has
already imported, which Python warns about; this dispatcher avoids that.)
"""

from __future__ import annotations

import sys

from . import data, pretrain

COMMANDS = {"data": data.main, "pretrain": pretrain.main}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.split("\n\n")[1].rstrip(), file=sys.stderr)
        given = f"unknown command {argv[0]!r}; " if argv and argv[0] not in ("-h", "--help") else ""
        print(f"{given}commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())

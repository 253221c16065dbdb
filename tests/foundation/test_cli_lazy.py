"""The CLI group is lazy: `--help` lists every command without importing any command module,
a command imports only its own module, and each listed summary is the command's own."""

from __future__ import annotations

import subprocess
import sys

import click

from peerguard.cli import LAZY_COMMANDS, main

PROBE = """
import sys
from peerguard.cli import main
sys.argv = ['peerguard', *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print('LOADED', sorted(m for m in sys.modules if m.startswith('peerguard.cli.') and m not in
      ('peerguard.cli.errors', 'peerguard.cli._common')))
"""


def loaded_after(*argv: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120).stdout
    line = [x for x in out.splitlines() if x.startswith("LOADED")][-1]
    return eval(line[len("LOADED "):])  # noqa: S307 - our own repr of a list of names


def test_every_summary_is_the_commands_own_short_help():
    ctx = click.Context(main)
    for name, (module, attribute, summary) in LAZY_COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name, (name, module, attribute)
        assert summary == command.get_short_help_str(limit=10_000), name


def test_help_lists_every_command_and_imports_none():
    result = subprocess.run([sys.executable, "-c", "from peerguard.cli import main; main()", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(LAZY_COMMANDS)
    assert loaded_after("--help") == []


def test_a_command_imports_only_its_own_module(tmp_path):
    assert loaded_after("outbox", "--help") == ["peerguard.cli.outbox"]
    assert loaded_after("review", "list", "--help") == ["peerguard.cli.review"]
    assert loaded_after("nope") == []

"""``peerguard status``: the same picture as the metrics gauges, in the terminal."""

from __future__ import annotations

import json

import click

from peerguard.cli._common import read_only


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
def status(as_json: bool) -> None:
    """Backlogs and their ages (scanning, outbox, review queue, sweeps, webhooks) and process heartbeats."""
    from datetime import UTC, datetime

    from storage.heartbeats import heartbeat_dir, youngest_age
    from usecases.status import read_gauges

    with read_only() as (settings, reader):
        figures = read_gauges(reader, datetime.now(UTC))
    beats = {role: youngest_age(heartbeat_dir(settings.data_dir), f"{role}-") for role in ("scheduler", "worker", "mail")}
    if as_json:
        click.echo(json.dumps({"gauges": [{"name": g.name, "labels": g.labels, "value": g.value} for g in figures],
                               "heartbeat_age_seconds": beats}, indent=2))
        return
    for g in figures:
        label = ",".join(f"{k}={v}" for k, v in g.labels.items())
        name = f"{g.name}{{{label}}}" if label else g.name
        click.echo(f"{name:<52} {g.value:>12,.0f}   {g.help}")
    for role, age in beats.items():
        click.echo(f"{'heartbeat ' + role:<52} {'none' if age is None else f'{age:,.0f} s ago':>12}")

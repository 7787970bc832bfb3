"""`devices` and `presets`: the shipped catalogs as tables or JSON."""

from __future__ import annotations

import json

import click

from .common import EXIT_PASS


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Every field of every profile (peaks with their sources).")
def devices(as_json):
    """List the shipped device profiles: runtime, threads, constraints, runs, published peaks."""
    from ..catalog import DEVICE_HEADER, device_rows
    from ..devices import list_profiles, load_profile

    _listing("Device profiles (devices/*.toml)", DEVICE_HEADER, device_rows,
             [load_profile(n) for n in list_profiles()], as_json)
    return EXIT_PASS


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Every field of every preset.")
def presets(as_json):
    """List the shipped export presets: format, precision, opset, quantization, parity tolerance."""
    from ..catalog import PRESET_HEADER, preset_rows
    from ..export.presets import list_presets, load_preset

    _listing("Export presets (exporters/*.toml)", PRESET_HEADER, preset_rows,
             [load_preset(n) for n in list_presets()], as_json)
    return EXIT_PASS


def _listing(title: str, header, rows_of, items, as_json: bool) -> None:
    """A catalog as an aligned table (full width when piped), or every field as JSON."""
    if as_json:
        from ..catalog import as_json as dump

        click.echo(json.dumps(dump(items), indent=2))
    else:
        from ..release.console import print_table

        print_table(title, header, rows_of(items))

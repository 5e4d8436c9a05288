"""The booth's commands: ``cabine products``, ``cabine code``, ``cabine sheet`` and
``cabine kiosk``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import (
    check_data_folder,
    check_lang,
    check_sqlite_file,
    check_writable,
    console,
    err_console,
    fail,
)
from ephoto import code as codes

code_app = typer.Typer(help="Generate and check ePhoto numbers.", no_args_is_help=True)


def products(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the names: fr or en.")] = "fr",
) -> None:
    """List the catalogue: which products issue an ePhoto number, and their prices."""
    from kiosk.catalog import CatalogError, load_catalog

    check_lang(lang)
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        raise fail(exc) from None
    if json_out:
        rows = [
            {
                "id": p.id,
                "category": p.category,
                "name_fr": p.name_fr,
                "name_en": p.name_en,
                "ephoto": p.ephoto,
                "procedure": p.procedure,
                "site": p.site,
                "price_cents": p.price.cents,
                "photos": p.photos,
                "layout": p.layout,
            }
            for p in catalog
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from cabine.tables import whole_table

    # Ids and prices are never cut: in 80 columns the layout (in --json) is left out so that
    # the names keep room to wrap between words.
    with_layout = console.width >= 100
    columns = ["id", "name", "ePhoto number", "site", "price", "photos"]
    lines = [
        [
            p.id,
            p.name(lang),
            "[bold green]YES[/bold green]" if p.ephoto else "[dim]no[/dim]",
            p.site or "-",
            p.price.format(lang),
            str(p.photos),
        ]
        + ([p.layout] if with_layout else [])
        for p in catalog
    ]
    table = whole_table("cabine catalogue", columns + (["layout"] if with_layout else []), lines, 1)
    console.print(table)


@code_app.command("new")
def code_new(
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many codes.")] = 1,
    operator: Annotated[
        str, typer.Option(help="Operator prefix, 4 characters A-Z 0-9.")
    ] = codes.DEFAULT_PREFIX,
) -> None:
    """Print fresh ePhoto numbers, one per line."""
    try:
        lines = [codes.generate(operator).value for _ in range(count)]
    except ValueError as exc:
        raise fail(exc) from None
    typer.echo("\n".join(lines))


@code_app.command("check")
def code_check(
    code: Annotated[str, typer.Argument(help="The number as typed (spaces and dashes allowed).")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    operator: Annotated[
        list[str] | None, typer.Option(help="Accepted operator prefix (repeatable).")
    ] = None,
) -> None:
    """Check a number: exit 0 if well-formed, 1 if not, listing each problem and likely fixes."""
    import re

    for prefix in operator or ():
        if not re.fullmatch(r"[A-Z0-9]{4}", prefix):
            raise fail(f"operator prefix {prefix!r} must be 4 characters from A-Z and 0-9")
    prefixes = tuple(operator) if operator else (codes.DEFAULT_PREFIX,)
    problems = codes.problems_in(code, prefixes)
    found = codes.candidates(code, prefixes) if problems else []
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "code": codes.normalize(code),
                    "valid": not problems,
                    "problems": [{"rule": p.rule, "detail": p.detail} for p in problems],
                    "candidates": found,
                }
            )
        )
    elif not problems:
        typer.echo(f"valid: {codes.group(codes.normalize(code))}")
    else:
        typer.echo(f"not valid: {codes.normalize(code)}")
        for p in problems:
            typer.echo(f"  - {p.rule}: {p.detail}")
        if found:
            typer.echo("did you mean:")
            for c in found:
                typer.echo(f"  {codes.group(c)}")
        else:
            typer.echo("no likely intended code found")
    raise typer.Exit(0 if not problems else 1)


def sheet(
    product: Annotated[str, typer.Option(help="Catalogue product id (see `cabine products`).")],
    out: Annotated[Path, typer.Option(help="Output file, .png or .pdf.")],
    code: Annotated[
        str | None,
        typer.Option(help="The ePhoto number to print; a fresh one if omitted (ePhoto only)."),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the sheet: fr or en.")] = "fr",
    photo: Annotated[
        Path | None, typer.Option(help="Picture to print instead of a synthetic portrait.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic portrait.")] = 1,
    sale: Annotated[str | None, typer.Option(help="Sale id printed on the sheet.")] = None,
) -> None:
    """Render a product's printed sheet; for an ePhoto product without --code, print the
    freshly generated number on stdout."""
    import secrets

    from cabine.config import load_settings
    from ephoto.texts import check_language
    from kiosk.camera import CameraError, load_photo, synthetic_portrait
    from kiosk.catalog import load_catalog
    from kiosk.receipt import FORMATS, SheetInfo, render_sheet, write_sheet

    try:
        check_language(lang)
        settings = load_settings()
        chosen = load_catalog().get(product)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise fail(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    if out.suffix.lower() not in FORMATS:
        raise fail(f"output {out} must end in .png or .pdf, not {out.suffix or 'nothing'!r}")
    generated = False
    if chosen.ephoto:
        if code is None:
            issued = codes.generate(settings.operator.prefix)
            generated = True
        else:
            try:
                issued = codes.parse(code, prefixes=(settings.operator.prefix,))
            except codes.InvalidCode as exc:
                raise fail(f"code {code!r} is not a valid ePhoto number: {exc}") from None
    elif code is not None:
        raise fail(f"product {chosen.id!r} issues no ePhoto number: --code is for ePhoto products")
    else:
        issued = None
    if photo is not None:
        check_picture_size(photo)
    try:
        picture = load_photo(photo) if photo is not None else synthetic_portrait(seed)
    except CameraError as exc:
        raise fail(str(exc)) from None
    info = SheetInfo(
        product=chosen,
        code=issued,
        issued_at=settings.clock.make().now(),
        booth_id=settings.kiosk.booth_id,
        sale_id=sale or f"CLI-{secrets.token_hex(3).upper()}",
    )
    try:
        write_sheet(render_sheet(info, [picture], lang), out)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    if generated and issued is not None:
        typer.echo(issued.value)


MAX_PICTURE_PIXELS = 40_000_000
"""The largest picture ``sheet --photo`` decodes (a 40 MP camera's; about 120 MB in RGB): a
larger one, or one whose header lies about its size (a decompression bomb), is refused before
decoding."""


def check_picture_size(path: Path) -> None:
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Its size is judged here, in one line: no library warning on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
    except Image.DecompressionBombError:
        raise fail(f"photo file {path} is far too large to decode (decompression bomb)") from None
    except (UnidentifiedImageError, OSError):
        return  # load_photo says what is wrong with it
    if width * height > MAX_PICTURE_PIXELS:
        raise fail(
            f"photo file {path} is {width} x {height} pixels; at most "
            f"{MAX_PICTURE_PIXELS // 1_000_000} million pixels are accepted"
        )


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise fail(f"--size {size!r} must look like 1920x1080") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise fail(f"--size {size!r} is outside 320x240 .. 7680x4320")
    return width, height


def kiosk(
    data: Annotated[
        Path | None, typer.Option("--data", help="Data folder (booth.db, photos, prints).")
    ] = None,
    fullscreen: Annotated[bool, typer.Option(help="Fill the screen.")] = False,
    size: Annotated[
        str | None, typer.Option(help="Window size WxH (default from the config, 1920x1080).")
    ] = None,
    headless: Annotated[
        bool, typer.Option(help="No screen: SDL's dummy video driver (for scripts and CI).")
    ] = False,
    script: Annotated[
        Path | None, typer.Option(help="TOML file of taps and waits to perform, then exit.")
    ] = None,
    screenshots: Annotated[
        Path | None, typer.Option(help="Save a screenshot here at every state change.")
    ] = None,
    hash_pin: Annotated[
        str | None,
        typer.Option("--hash-pin", help="Print the hash of this operator PIN for the config."),
    ] = None,
) -> None:
    """Run the booth's touchscreen: sale flow, issuing, printing and the operator menu."""
    from datetime import timedelta

    from cabine.config import load_settings
    from kiosk.operator import hash_pin as make_pin_hash

    if hash_pin is not None:
        try:
            typer.echo(make_pin_hash(hash_pin))
        except ValueError as exc:
            raise fail(exc) from None
        return
    window = _parse_size(size) if size else None
    if data is not None:
        check_data_folder(data)
    settings = load_settings(**({"data_dir": data} if data is not None else {}))
    window = window or (settings.kiosk.width, settings.kiosk.height)
    if script is not None and not script.is_file():
        raise fail(f"script {script} does not exist")
    if script is not None:
        from kiosk.ui.script import ScriptError, load_script

        try:  # the whole script is checked before the booth starts
            load_script(script)
        except ScriptError as exc:
            raise fail(exc) from None
    check_data_folder(settings.data_dir)
    check_writable(settings.data_dir, "data folder")
    check_sqlite_file(settings.data_dir / "booth.db", "booth database")
    from kiosk.booth import Booth

    if headless or script is not None:
        from kiosk.ui.app import use_dummy_video

        use_dummy_video()
    try:
        booth = Booth.from_settings(
            settings.kiosk,
            settings.data_dir,
            settings.clock.make(),
            operator_prefix=settings.operator.prefix,
            batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
            default_lang=settings.lang,
            headless=headless or script is not None,
        )
    except ValueError as exc:
        raise fail(exc) from None
    # The printer's status names the printer itself (``cups:QUEUE: idle``, ``file:PATH``).
    err_console.print(f"printer {booth.printer.status().detail}", markup=False, soft_wrap=True)
    if booth.device_problem is not None:
        err_console.print(f"maintenance: {booth.device_problem.detail}", markup=False)
    try:
        if script is not None:
            from kiosk.ui.script import ScriptError, run_headless

            if not headless:
                err_console.print("scripts always run headless (SDL dummy video driver)")
            try:
                report = run_headless(booth, script, screenshots, window)
            except ScriptError as exc:
                raise fail(exc) from None
            typer.echo(" -> ".join(report.states))
            if screenshots is not None:
                typer.echo(f"{len(report.screenshots)} screenshots in {screenshots}")
            if not report.ok:
                err_console.print(f"[red]{report.error}[/red]")
                raise typer.Exit(1)
            return
        from kiosk.ui.app import KioskApp, use_dummy_video

        if headless:
            use_dummy_video()
        KioskApp(
            booth,
            size=window,
            fullscreen=fullscreen or settings.kiosk.fullscreen,
            screenshots=screenshots,
        ).run()
    finally:
        booth.close()

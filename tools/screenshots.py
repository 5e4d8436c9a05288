"""Make the documentation's pictures again from the real program; none is edited by hand.

    .venv/bin/python tools/screenshots.py [--out docs] [--only NAME ...]

- ``kiosk-products.png``: ``cabine kiosk --headless`` driven by a script to the product screen
  of the ID photos (French, at the booth's 1920x1080, shown at 1280x720), the screenshot
  the booth itself saves;
- ``screens/STATE.png``: the screens of an ePhoto sale, the demo's scripted customer buying
  one through ``cabine kiosk --headless`` (at 1920x1080, shown at 960x540);
- ``sheet-ephoto.png``: ``cabine sheet`` for an ePhoto driving-licence sheet, shown at 60 %;
- ``registry-check.png``: ``cabine registry`` on loopback, its check page asked about a number
  it does not know, in headless Chromium (Debian's ``chromium``, through Playwright, as the
  browser tests drive it).

- ``report/*.png``: ``cabine simulate summer-peak --lang en``: its three plots, and the top of
  its ``report.html`` in headless Chromium.

Each picture is reduced to a palette of 256 colours, as committed. Run it after a change to a
screen, the sheet or the check page, and commit the pictures with the change.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# A well-formed number of this operator: the sheet shows it, and the registry does not know it.
SAMPLE_CODE = "9PMTTKMHJRGKW3GUV7ZFVT"
PRODUCT_SCREEN_SCRIPT = """\
[[step]]
tap = "start"
[[step]]
tap = "lang-fr"
[[step]]
tap = "category-identity"
[[step]]
wait_for = "product"
[[step]]
wait = 0.5
[[step]]
screenshot = "products"
"""


def cabine(*args: str, cwd: Path) -> None:
    """Run ``cabine ARGS`` as a user would, failing loudly with its own words."""
    done = subprocess.run(
        [sys.executable, "-m", "cabine.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"SDL_VIDEODRIVER": "dummy", "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise SystemExit(f"cabine {' '.join(args)} failed:\n{done.stderr}")


def save(image: Image.Image, path: Path) -> Path:
    image.convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def kiosk_products(out: Path, work: Path) -> Path:
    script = work / "products.toml"
    script.write_text(PRODUCT_SCREEN_SCRIPT, encoding="utf-8")
    shots = work / "shots"
    cabine(
        "kiosk",
        "--headless",
        "--size",
        "1920x1080",
        "--data",
        str(work / "booth"),
        "--script",
        str(script),
        "--screenshots",
        str(shots),
        cwd=work,
    )
    (shot,) = sorted(shots.glob("*-products.png"))
    # The booth at its own size, shown at two thirds.
    shown = Image.open(shot).resize((1280, 720), Image.LANCZOS)
    return save(shown, out / "kiosk-products.png")


# The states of an ePhoto sale shown in the operator's guide, in the order a customer meets them.
SALE_SCREENS = (
    "attract",
    "language",
    "category",
    "product",
    "confirm",
    "capture",
    "review",
    "signature",
    "payment",
    "done",
)


def _toml_steps(steps: list[dict[str, object]]) -> str:
    """A script's steps as the TOML file ``cabine kiosk --script`` reads."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v)  # a JSON string or number is a TOML one too

    lines = []
    for step in steps:
        lines += ["[[step]]", *(f"{key} = {value(v)}" for key, v in step.items())]
    return "\n".join(lines) + "\n"


def sale_screens(out: Path, work: Path) -> Path:
    """An ePhoto sale for a driving licence, as the demo's scripted customer makes it, with the
    screenshot the booth saves on entering each state."""
    from cabine.demo import purchase_steps

    script = work / "sale.toml"
    script.write_text(_toml_steps(purchase_steps("ephoto-permis", "ephoto", True, "fr")))
    shots = work / "shots"
    cabine(
        "kiosk",
        "--headless",
        "--data",
        str(work / "booth"),
        "--script",
        str(script),
        "--screenshots",
        str(shots),
        cwd=work,
    )
    folder = out / "screens"
    folder.mkdir(exist_ok=True)
    for state in SALE_SCREENS:
        first = sorted(shots.glob(f"[0-9][0-9][0-9]-{state}.png"))
        if not first:
            raise SystemExit(f"the sale never showed the {state} screen: {sorted(shots.iterdir())}")
        save(Image.open(first[0]).resize((960, 540), Image.LANCZOS), folder / f"{state}.png")
    return folder


def sheet_ephoto(out: Path, work: Path) -> Path:
    sheet = work / "sheet.png"
    cabine(
        "sheet", "--product", "ephoto-permis", "--code", SAMPLE_CODE, "--out", str(sheet), cwd=work
    )
    image = Image.open(sheet)
    shown = image.resize((round(image.width * 0.6), round(image.height * 0.6)), Image.LANCZOS)
    return save(shown, out / "sheet-ephoto.png")


def registry_check(out: Path, work: Path) -> Path:
    from playwright.sync_api import sync_playwright

    from cabine.processes import ProcessGroup, free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ProcessGroup(work / "logs") as group:
        registry = group.start(
            "registry",
            ["registry", "--port", str(port), "--data", str(work / "registry")],
            config=None,
            url=url,
        )
        registry.wait_serving()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(locale="fr-FR", viewport={"width": 900, "height": 800})
            page.goto(url + "/")
            page.get_by_label("Numéro ePhoto (22 caractères)").fill(SAMPLE_CODE)
            page.get_by_label("Permis de conduire (ANTS)").check()
            page.get_by_role("button", name="Vérifier").click()
            page.get_by_role("status").wait_for()
            shot = work / "registry.png"
            page.screenshot(path=str(shot))
            browser.close()
    return save(Image.open(shot), out / "registry-check.png")


def simulation_report(out: Path, work: Path) -> Path:
    """``cabine simulate summer-peak`` in English: its three plots, and the top of its report
    in headless Chromium."""
    from playwright.sync_api import sync_playwright

    run = work / "summer-peak"
    cabine("simulate", "summer-peak", "--out", str(run), "--lang", "en", cwd=work)
    folder = out / "report"
    folder.mkdir(exist_ok=True)
    for plot in ("activation-cdf.png", "backlog.png", "share-within-72h-by-day.png"):
        save(Image.open(run / plot), folder / plot)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale="en-GB", viewport={"width": 1000, "height": 1100})
        page.goto((run / "report.html").as_uri())
        shot = work / "report.png"
        page.screenshot(path=str(shot))
        browser.close()
    save(Image.open(shot), folder / "report.png")
    return folder


PICTURES: dict[str, Callable[[Path, Path], Path]] = {
    "kiosk-products": kiosk_products,
    "sale-screens": sale_screens,
    "sheet-ephoto": sheet_ephoto,
    "registry-check": registry_check,
    "simulation-report": simulation_report,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder of the pictures")
    parser.add_argument("--only", nargs="+", choices=sorted(PICTURES), help="these pictures only")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or PICTURES:
        with tempfile.TemporaryDirectory(prefix=f"cabine-{name}-") as work:
            path = PICTURES[name](args.out, Path(work))
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

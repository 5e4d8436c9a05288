"""The wheel a user installs holds the product only: the test kit (``testkit/``), the tests and
the benches stay in the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_no_test_kit(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("cabine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"cabine", "kiosk", "registry", "assets"} <= tops
    assert not {"testkit", "tests", "bench", "tools"} & tops, sorted(tops)
    assert not [n for n in names if n.startswith("cabine/testing/")]

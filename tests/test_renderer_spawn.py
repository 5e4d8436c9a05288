"""The sheet renderer's process starts cleanly even while OpenCV is being imported.

OpenCV's loader rewrites sys.path during cv2's first import; a process spawned at that moment
inherits the rewritten path. With cv2's folder first on it, the child imports cv2's ``typing``
package instead of the standard one and dies at start, and the pool spawns it again forever:
the booth would wait for its sheet without end.
"""

from __future__ import annotations

import sys
import threading
import time

from kiosk.booth import ProcessRenderer, _warm_up
from kiosk.devices import SPAWN_LOCK


def test_the_renderer_is_not_spawned_while_the_opencv_loader_has_sys_path_rewritten(
    tmp_path, capfd
):
    poisoned = tmp_path / "loader"
    (poisoned / "typing").mkdir(parents=True)
    (poisoned / "typing" / "__init__.py").write_text("raise ImportError('not the real typing')\n")
    rewritten = threading.Event()

    def loader_at_work() -> None:  # what cv2/__init__.py does, under the lock import_cv2 takes
        with SPAWN_LOCK:
            saved = list(sys.path)
            sys.path.insert(0, str(poisoned))
            rewritten.set()
            time.sleep(1.0)
            sys.path[:] = saved

    loader = threading.Thread(target=loader_at_work)
    loader.start()
    rewritten.wait()
    renderer = ProcessRenderer()
    try:
        renderer._started().apply_async(_warm_up).get(timeout=60)
    finally:
        renderer.close()
        loader.join()
    assert str(poisoned) not in sys.path
    # A worker spawned with the rewritten path dies at start, saying so on the shared stderr
    # (the pool then starts another once the path is back, which hides it from the sheet).
    assert "not the real typing" not in capfd.readouterr().err

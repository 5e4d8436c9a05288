"""Speed of the collector: ingest of realistic ePhoto files against writing the same bytes to
disk, and the state's fetch at use.

Run: .venv/bin/python bench/collector.py [--uploads N] [--files-per-upload F] [--fetches M]
                                         [--db URL]

One collector worker (``cabine collector serve``, a separate process, SQLite by default)
receives signed uploads of F files from one booth, one upload at a time on a kept-alive
connection. Each file is realistic: a textured, noisy portrait encoded as JPEG 413 x 531 at the
quality that lands it between 40 and 60 KB, and a greyscale PNG signature of 5 to 10 KB. In
turn with each upload, the same bytes (every photo and signature of the upload) are written to a
new file in a scratch folder, fsynced with the folder: the floor a store cannot beat, without
any check. The ratio of the two rates is the goal (ingest >= 50 % of the raw rate). A third
turn writes each image to a file of its own with fsync, what a store of files on disk would
pay (printed for the storage choice, not part of the goal). Last, the same files go through
the checks alone (both images decoded, sizes, budgets, digests), on the collector's two checking
threads: the rate no collector making those checks can pass, and so the ceiling of the ratio
on this machine. The
upload's JSON is built before its clock starts; its signature (HMAC, the booth's work) is made
just before it is sent and counted apart.

Then the state fetches stored files one at a time, each request signed with its Ed25519 key
before the clock starts, and p50 and p99 of the answer time are printed (goal: p99 < 20 ms on
loopback). Everything is bounded in count and time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cabine.processes import free_port  # noqa: E402
from ephoto.clock import SystemClock  # noqa: E402
from ephoto.code import SeededCodeGeneratorForSimulation  # noqa: E402
from ephoto.epfile import (  # noqa: E402
    FILES_PATH,
    PHOTO_SIZE,
    SIGNATURE_SIZE,
    EphotoFile,
    FileMeta,
    file_problems,
    sha256_hex,
)
from ephoto.seal import generate_key, public_pem  # noqa: E402
from ephoto.statefetch import fetch_path, sign_fetch  # noqa: E402
from ephoto.wire import BoothKey, add_booth_key, sign_request  # noqa: E402
from testkit.chain import CollectorProcess  # noqa: E402

PHOTO_BYTES = (40_000, 60_000)
SIGNATURE_BYTES = (5_000, 10_000)
DISTINCT_IMAGES = 24
WALL_LIMIT_SECONDS = 300


# --- realistic files -------------------------------------------------------------------------


def textured_portrait(seed: int) -> Image.Image:
    """A camera-like portrait: a lit background, a face and shoulders, fabric and hair texture
    and sensor noise (a smooth drawing would compress to a few KB and flatter the collector)."""
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    background = 170 + 25 * (x / width) - 15 * (y / height)
    image = np.stack([background * 0.92, background * 0.96, background], axis=-1)
    face = ((x - width / 2) / 105) ** 2 + ((y - height * 0.42) / 140) ** 2 < 1
    shoulders = ((x - width / 2) / 200) ** 2 + ((y - height * 1.05) / 190) ** 2 < 1
    hair = (((x - width / 2) / 118) ** 2 + ((y - height * 0.36) / 150) ** 2 < 1) & (
        y < height * 0.30
    )
    skin = np.array([205, 165, 140], np.float32) + rng.normal(0, 6, 3)
    cloth = np.array([50, 60, 90], np.float32) + rng.normal(0, 10, 3)
    image[face] = skin
    image[shoulders] = cloth
    image[hair] = np.array([60, 45, 35], np.float32)
    texture = rng.normal(0, 1, (height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    texture = np.kron(texture, np.ones((4, 4, 1), np.float32))[:height, :width]
    image += 9 * texture + rng.normal(0, 7, (height, width, 3)).astype(np.float32)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    return picture.filter(ImageFilter.GaussianBlur(0.6))


def photo_jpeg(seed: int) -> bytes:
    """The portrait as JPEG at the quality that lands nearest 50 KB, within 40-60 KB."""
    picture = textured_portrait(seed)
    fitting = []
    for quality in range(95, 20, -3):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality, optimize=True)
        if PHOTO_BYTES[0] <= buffer.tell() <= PHOTO_BYTES[1]:
            fitting.append((abs(buffer.tell() - 50_000), buffer.getvalue()))
        elif buffer.tell() < PHOTO_BYTES[0]:
            break
    if not fitting:
        raise RuntimeError(f"photo {seed} has no quality within 40-60 KB")
    return min(fitting)[1]


def signature_png(seed: int) -> bytes:
    """A pen signature on a tablet: anti-aliased strokes on white, 5-10 KB."""
    rng = random.Random(seed)
    width, height = SIGNATURE_SIZE
    pad = Image.new("L", (width * 2, height * 2), 255)
    draw = ImageDraw.Draw(pad)
    points = [(60, 250 + rng.randint(-40, 40))]
    for step in range(1, 22):
        points.append((60 + step * 49, 200 + rng.randint(-120, 120)))
    draw.line(points, fill=20, width=7, joint="curve")
    draw.line([(300, 330), (900, 300 + rng.randint(-20, 20))], fill=30, width=5)
    picture = pad.resize(SIGNATURE_SIZE, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=True)
    data = buffer.getvalue()
    if not SIGNATURE_BYTES[0] <= len(data) <= SIGNATURE_BYTES[1]:
        raise RuntimeError(f"signature {seed}: {len(data)} bytes, not 5-10 KB")
    return data


def make_files(count: int, booth_id: str, issued_at: datetime) -> list[EphotoFile]:
    photos = [photo_jpeg(seed) for seed in range(DISTINCT_IMAGES)]
    signatures = [signature_png(seed) for seed in range(DISTINCT_IMAGES)]
    codes = SeededCodeGeneratorForSimulation(int(time.time()), "9PMT")
    files = []
    for n in range(count):
        photo, signature = photos[n % len(photos)], signatures[n % len(signatures)]
        meta = FileMeta(
            code=codes.next_code().value,
            booth_id=booth_id,
            operator="9PMT",
            issued_at=issued_at,
            product="ephoto-permis",
            procedure="permis",
            photo_sha256=sha256_hex(photo),
            signature_sha256=sha256_hex(signature),
        )
        files.append(EphotoFile(meta, photo, signature))
    problems = file_problems(files[0], ("9PMT",))
    if problems:
        raise RuntimeError(f"the bench's files break rules: {problems}")
    return files


# --- the collector under test ----------------------------------------------------------------


def start_collector(
    work: Path, db_url: str | None, state_pem: bytes
) -> tuple[CollectorProcess, BoothKey]:
    data = work / "collector"
    data.mkdir()
    add_booth_key(data / "keys.toml", "collector-9PMT", "9PMT")
    booth = add_booth_key(data / "keys.toml", "booth-001", "9PMT")
    (data / "state-fetch.pub.pem").write_bytes(state_pem)
    collector = CollectorProcess(
        data,
        free_port(),
        f"http://127.0.0.1:{free_port()}",
        # Nothing is registered during the bench: registration is another process's work.
        settings={
            "CABINE_COLLECTOR__REGISTRATION_WINDOW_MINUTES": "100000",
            "CABINE_COLLECTOR__REGISTRATION_POLL_SECONDS": "3600",
            "CABINE_COLLECTOR__RETENTION_SWEEP_SECONDS": "3600",
        },
        args=["--workers", "1", *(["--db", db_url] if db_url else [])],
        log=work / "collector.log",
    )
    collector.start()
    return collector, booth


def raw_write(folder: Path, chunk: list[EphotoFile], n: int) -> None:
    """The same bytes written once, durably: one new file, fsync, rename, fsync of the folder."""
    scratch = folder / f".{n}.tmp"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for file in chunk:
            os.write(fd, file.photo_jpeg)
            os.write(fd, file.signature_png)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(scratch, folder / f"{n}.bin")
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def per_image_write(folder: Path, chunk: list[EphotoFile]) -> None:
    """The other way to store files: one file per image, each written whole (fsync, rename)
    and its folder fsynced, as a store of files on disk must before it answers."""
    for file in chunk:
        for kind, data in (("photo", file.photo_jpeg), ("signature", file.signature_png)):
            scratch = folder / f".{file.code}.{kind}.tmp"
            fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(scratch, folder / f"{file.code}.{kind}")
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


CHECK_THREADS = 2  # as the collector checks an upload's files (collector.routes.uploads)


def checks_only_rate(chunks: list[list[EphotoFile]]) -> float:
    """Files/s of the checks every stored file must pass (``ephoto.epfile.file_problems``:
    both images decoded, their pixel size, byte budget and digests), one upload after the
    other, its files on as many threads as the collector uses: what no collector that makes
    these checks can beat, whatever it stores and however it answers."""
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        list(pool.map(file_problems, chunks[0]))  # threads started before the clock
        started = time.perf_counter()
        for chunk in chunks:
            for problems in pool.map(file_problems, chunk):
                if problems:
                    raise RuntimeError(f"a bench file breaks rules: {problems}")
        seconds = time.perf_counter() - started
    return sum(len(chunk) for chunk in chunks) / seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="cabine-bench-collector-"))
    clock = SystemClock()
    process = None
    try:
        state_key = generate_key()
        process, booth = start_collector(work, args.db, public_pem(state_key))
        url = process.url
        total = args.uploads * args.files_per_upload
        print(f"making {total} files ({DISTINCT_IMAGES} distinct photos and signatures)...")
        files = make_files(total, "booth-001", clock.now().astimezone(UTC))
        photo_sizes = sorted({len(f.photo_jpeg) for f in files})
        signature_sizes = sorted({len(f.signature_png) for f in files})
        print(
            f"photos {photo_sizes[0] / 1000:.1f}-{photo_sizes[-1] / 1000:.1f} KB, signatures "
            f"{signature_sizes[0] / 1000:.1f}-{signature_sizes[-1] / 1000:.1f} KB"
        )
        chunks = [
            files[i : i + args.files_per_upload] for i in range(0, total, args.files_per_upload)
        ]
        bodies = [
            json.dumps(
                {
                    "upload_id": uuid.uuid4().hex,
                    "booth_id": "booth-001",
                    "files": [f.to_wire() for f in chunk],
                },
                separators=(",", ":"),
            ).encode()
            for chunk in chunks
        ]
        raw_folder = work / "raw"
        raw_folder.mkdir()
        image_folder = work / "images"
        image_folder.mkdir()
        ingest_seconds = raw_seconds = sign_seconds = image_seconds = 0.0
        with httpx.Client(timeout=60) as client:
            client.get(url + "/openapi.json")  # the connection is open before the clock starts
            for n, (chunk, body) in enumerate(zip(chunks, bodies, strict=True)):
                if time.monotonic() - started > WALL_LIMIT_SECONDS:
                    raise RuntimeError("the bench ran out of time")
                t0 = time.perf_counter()
                headers = sign_request(
                    "POST", url + FILES_PATH, body, "booth-001", booth.secret, clock.now()
                )
                headers["Content-Type"] = "application/json"
                t1 = time.perf_counter()
                answer = client.post(url + FILES_PATH, content=body, headers=headers)
                t2 = time.perf_counter()
                if answer.status_code != 200 or answer.json()["accepted"] != len(chunk):
                    raise RuntimeError(f"upload {n}: {answer.status_code} {answer.text[:300]}")
                raw_write(raw_folder, chunk, n)
                t3 = time.perf_counter()
                per_image_write(image_folder, chunk)
                t4 = time.perf_counter()
                sign_seconds += t1 - t0
                ingest_seconds += t2 - t1
                raw_seconds += t3 - t2
                image_seconds += t4 - t3
            ingest_rate = total / ingest_seconds
            raw_rate = total / raw_seconds
            print(
                f"ingest: {total} files in {len(chunks)} uploads of {args.files_per_upload}, "
                f"1 worker, store {(args.db or 'SQLite').split('@')[-1]}"
            )
            print(f"  collector ingest     {ingest_rate:9.1f} files/s")
            print(f"  raw write + fsync    {raw_rate:9.1f} files/s (same bytes, no checks)")
            print(f"  ratio                {100 * ingest_rate / raw_rate:9.1f} %   (goal >= 50 %)")
            print(
                f"  (one file per image, fsync each: {total / image_seconds:.1f} files/s, "
                "what storing files on disk would pay before answering)"
            )
            print(f"  booth's signing      {1000 * sign_seconds / len(chunks):9.2f} ms an upload")
            checks_rate = checks_only_rate(chunks)
            print(
                f"  checks alone         {checks_rate:9.1f} files/s (decode, size, budget, "
                f"digests on {CHECK_THREADS} threads, nothing else)"
            )
            print(
                f"  ceiling of the ratio {100 * checks_rate / raw_rate:9.1f} %   (the checks "
                "the collector must make, against the raw write)"
            )

            rng = random.Random(7)
            picks = [rng.choice(files).code for _ in range(args.fetches)]
            signed = []
            for code in picks:
                path = fetch_path(code)
                signed.append((path, sign_fetch(url + path, "state", state_key, clock.now())))
            times = []
            for path, headers in signed:
                t0 = time.perf_counter()
                answer = client.get(url + path, headers=headers)
                times.append(time.perf_counter() - t0)
                if answer.status_code != 200:
                    raise RuntimeError(f"fetch {path}: {answer.status_code} {answer.text[:200]}")
        p50, p99 = percentile(times, 0.50), percentile(times, 0.99)
        print(f"state fetch: {len(times)} signed fetches, one at a time")
        print(
            f"  p50 {1000 * p50:.2f} ms, p99 {1000 * p99:.2f} ms (goal p99 < 20 ms), "
            f"mean {1000 * statistics.fmean(times):.2f} ms"
        )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if process is not None:
            process.stop(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=60, help="uploads to send (default 60)")
    parser.add_argument("--files-per-upload", type=int, default=10, help="files in each (1-50)")
    parser.add_argument("--fetches", type=int, default=1000, help="state fetches (default 1000)")
    parser.add_argument("--db", help="collector store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()
    if not 1 <= args.files_per_upload <= 50 or args.uploads < 1 or args.fetches < 1:
        parser.error("--files-per-upload must be 1-50; --uploads and --fetches at least 1")
    run(args)


if __name__ == "__main__":
    main()

"""The collector's upload route: signed per booth, every file checked, sealed at receipt and
stored once; a refused upload stores nothing and the service keeps serving."""

from __future__ import annotations

import base64
import io
import json
import socket
from dataclasses import replace

import pytest
from PIL import Image

from collector.store import files
from ephoto.epfile import (
    FILES_PATH,
    MAX_FILES_PER_UPLOAD,
    MAX_UPLOAD_BYTES,
    PHOTO_SIZE,
    EphotoFile,
    sha256_hex,
)
from ephoto.seal import check_sealed_file
from tests.collector_world import (
    booth_file,
    files_in_db,
    make_world,
    new_code,
    serve_on_loopback,
)


@pytest.fixture()
def world(tmp_path):
    w = make_world(tmp_path)
    yield w
    w.client.close()
    w.store.dispose()


def jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def with_photo(file: EphotoFile, photo: bytes) -> EphotoFile:
    return EphotoFile(replace(file.meta, photo_sha256=sha256_hex(photo)), photo, file.signature_png)


def with_signature(file: EphotoFile, signature: bytes) -> EphotoFile:
    meta = replace(file.meta, signature_sha256=sha256_hex(signature))
    return EphotoFile(meta, file.photo_jpeg, signature)


def still_serves(world) -> None:
    """After a refusal, a good upload is accepted."""
    good = booth_file()
    answer = world.upload([good])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "duplicates": []}


def test_good_files_are_stored_sealed_and_counted(world):
    batch = [booth_file(seed=i) for i in range(3)]
    answer = world.upload(batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 3, "duplicates": []}
    assert files_in_db(world) == 3
    public = world.seal_key.public_key()
    for sent in batch:
        stored = world.store.images(sent.code)
        assert stored is not None
        assert stored.photo_jpeg == sent.photo_jpeg and stored.signature_png == sent.signature_png
        sealed = check_sealed_file(
            stored.seal, stored.photo_jpeg, stored.signature_png, public, sent.code
        )
        assert sealed.meta == sent.meta


def test_the_same_file_again_is_a_duplicate_and_changes_nothing(world):
    first = booth_file()
    assert world.upload([first]).json() == {"accepted": 1, "duplicates": []}
    seal_before = world.store.images(first.code).seal
    other = booth_file()
    again = world.upload([first, other])
    assert again.status_code == 200
    assert again.json() == {"accepted": 1, "duplicates": [first.code]}
    assert world.store.images(first.code).seal == seal_before
    assert files_in_db(world) == 2


def test_a_different_file_for_a_stored_number_is_refused_and_never_overwritten(world):
    first = booth_file(seed=0)
    world.upload([first])
    impostor = booth_file(code=first.code, seed=1)
    bystander = booth_file()
    answer = world.upload([bystander, impostor])
    assert answer.status_code == 409
    assert f"files[1].code {first.code}" in answer.json()["detail"]
    assert world.store.images(first.code).photo_jpeg == first.photo_jpeg
    assert world.store.images(bystander.code) is None  # nothing of the upload stored
    assert files_in_db(world) == 1
    still_serves(world)


def test_two_different_files_for_one_number_in_one_upload_are_refused(world):
    first = booth_file(seed=0)
    twin = booth_file(code=first.code, seed=1)
    answer = world.upload([first, twin])
    assert answer.status_code == 409
    assert files_in_db(world) == 0


def bad_files() -> list[tuple[str, EphotoFile | dict, str, int]]:
    """(name, file, field named, status) for each bad input of the issue's list."""
    good = booth_file()
    truncated = with_photo(good, good.photo_jpeg[: len(good.photo_jpeg) // 2])
    small = with_photo(good, jpeg(Image.new("RGB", (400, 531), "grey"), quality=90))
    noise = Image.frombytes(
        "RGB", PHOTO_SIZE, bytes(range(256)) * (PHOTO_SIZE[0] * PHOTO_SIZE[1] * 3 // 256 + 1)
    )
    over_budget = with_photo(good, jpeg(noise, quality=100, subsampling=0))
    colour_png = with_signature(good, png(Image.new("RGB", (600, 200), "white")))
    digest = EphotoFile(
        replace(good.meta, photo_sha256="0" * 64), good.photo_jpeg, good.signature_png
    )
    not_base64 = {**good.to_wire(), "photo_jpeg": "***"}
    missing_field = {k: v for k, v in good.to_wire().items() if k != "procedure"}
    other_booth = booth_file(booth_id="booth-002")
    other_operator = booth_file(code=new_code("7XYZ"))
    return [
        ("truncated JPEG", truncated, "photo_jpeg", 422),
        ("wrong pixel size", small, "photo_jpeg", 422),
        ("over budget", over_budget, "photo_jpeg", 422),
        ("PNG not greyscale", colour_png, "signature_png", 422),
        ("digest mismatch", digest, "photo_sha256", 422),
        ("not base64", not_base64, "photo_jpeg", 422),
        ("missing field", missing_field, "procedure", 422),
        ("another booth's file", other_booth, "booth_id", 422),
        ("number of another operator", other_operator, "code", 403),
    ]


@pytest.mark.parametrize("case", range(9), ids=[c[0] for c in bad_files()])
def test_each_bad_file_refuses_the_upload_naming_it_and_nothing_is_stored(world, case):
    name, bad, field, status = bad_files()[case]
    good = booth_file()
    answer = world.upload([good, bad])
    assert answer.status_code == status, (name, answer.text)
    detail = answer.json()["detail"]
    if status == 422:
        assert detail[0]["loc"] == ["body", "files", 1, field], detail
    else:
        assert f"files[1].{field}" in detail
    assert files_in_db(world) == 0
    assert world.store.images(good.code) is None
    still_serves(world)


def test_the_over_budget_case_really_is_over_budget():
    over = bad_files()[2][1]
    assert isinstance(over, EphotoFile) and len(over.photo_jpeg) > 100_000


def test_an_unsigned_upload_is_refused(world):
    body = world.upload_body([booth_file()], "booth-001")
    answer = world.client.post(
        FILES_PATH, content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 401
    assert files_in_db(world) == 0
    still_serves(world)


def test_an_upload_signed_with_a_wrong_key_is_refused(world):
    body = world.upload_body([booth_file()], "booth-001")
    headers = world.signed(body, "booth-001", secret=b"x" * 32)
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 401
    assert files_in_db(world) == 0


def test_a_replayed_upload_is_refused(world):
    body = world.upload_body([booth_file()], "booth-001")
    headers = world.signed(body, "booth-001", nonce="once-only")
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 200
    replay = world.client.post(FILES_PATH, content=body, headers=headers)
    assert replay.status_code == 401
    assert "replay" in replay.json()["detail"]


def test_a_refused_upload_cannot_be_replayed_either(world):
    body = world.upload_body([booth_file(code=new_code("7XYZ"))], "booth-001")
    headers = world.signed(body, "booth-001", nonce="refused-once")
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 403
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 401


def test_a_stale_signature_is_refused(world):
    from datetime import timedelta

    body = world.upload_body([booth_file()], "booth-001")
    headers = world.signed(body, "booth-001", now=world.clock.now() - timedelta(minutes=10))
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 401


def test_the_envelope_is_checked(world):
    too_many = [booth_file(seed=0)] * (MAX_FILES_PER_UPLOAD + 1)
    answer = world.upload(too_many)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][:2] == ["body", "files"]
    body = b'{"upload_id": "u1", "booth_id": "booth-001", "files": "none"}'
    assert (
        world.client.post(FILES_PATH, content=body, headers=world.signed(body)).status_code == 422
    )
    body = b"not json"
    assert (
        world.client.post(FILES_PATH, content=body, headers=world.signed(body)).status_code == 422
    )
    assert files_in_db(world) == 0
    still_serves(world)


def test_an_upload_naming_another_booth_than_its_signer_is_refused(world):
    world.booth("booth-002")
    body = world.upload_body([booth_file(booth_id="booth-002")], "booth-002")
    answer = world.client.post(FILES_PATH, content=body, headers=world.signed(body, "booth-001"))
    assert answer.status_code == 403
    assert files_in_db(world) == 0


def test_an_upload_declaring_more_than_the_bound_is_refused_before_its_body(world):
    answer = world.client.post(
        FILES_PATH,
        content=b"{}",
        headers={"Content-Length": str(MAX_UPLOAD_BYTES + 1), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


def _read_status(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_a_100_mb_request_is_refused_early_on_a_real_server(world):
    """Declared: refused before one byte of body is sent. Streamed (chunked): refused soon
    after the bound, the rest never read; the server keeps serving."""
    server = serve_on_loopback(world)
    host, port = server.url.removeprefix("http://").split(":")
    hundred_mb = 100 * 1024 * 1024
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST {FILES_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {hundred_mb}\r\n\r\n".encode()
            )
            status, _ = _read_status(sock)
        assert status == 413

        import threading

        sent = 0
        chunk = b"A" * 65536
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST {FILES_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            stop = threading.Event()

            def stream() -> None:
                nonlocal sent
                while sent < hundred_mb and not stop.is_set():
                    try:
                        sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    except OSError:
                        return
                    sent += len(chunk)

            sender = threading.Thread(target=stream, daemon=True)
            sender.start()
            answer = b""
            try:
                while b"\r\n\r\n" not in answer:
                    more = sock.recv(65536)
                    if not more:
                        break
                    answer += more
            except OSError:
                pass
            stop.set()
            sender.join(timeout=30)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < hundred_mb // 4, f"{sent} bytes were sent before the refusal"
        import httpx

        from tests.collector_world import World

        loop = World(
            world.tmp,
            world.clock,
            world.store,
            world.keys_file,
            world.state_key,
            world.seal_key,
            httpx.Client(base_url=server.url, timeout=30),
            base_url=server.url,
            booths=world.booths,
        )
        assert files_in_db(world) == 0
        still_serves(loop)
        loop.client.close()
    finally:
        server.stop()


def test_images_travel_as_base64_and_are_stored_as_bytes(world):
    file = booth_file()
    wire = file.to_wire()
    assert base64.b64decode(wire["photo_jpeg"]) == file.photo_jpeg
    world.upload([wire])
    with world.store.engine.connect() as conn:
        from sqlalchemy import select

        photo = conn.execute(select(files.c.photo).where(files.c.code == file.code)).scalar_one()
    assert photo == file.photo_jpeg
    assert json.loads(world.fetch(file.code).text)["code"] == file.code


def test_nonces_are_kept_for_the_window_and_forgotten_after(world):
    from datetime import timedelta

    from sqlalchemy import func, select

    from collector.service import sweep_retention
    from collector.store import nonces

    body = world.upload_body([booth_file()], "booth-001")
    headers = world.signed(body, "booth-001", nonce="kept-for-the-window")
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 200
    world.clock.advance(timedelta(seconds=200))
    sweep_retention(world.store, world.clock)
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 401
    world.clock.advance(timedelta(seconds=900))
    sweep_retention(world.store, world.clock)
    with world.store.engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(nonces)).scalar_one()
    assert left == 0
    # Too old to replay anyway: refused as stale.
    assert world.client.post(FILES_PATH, content=body, headers=headers).status_code == 401

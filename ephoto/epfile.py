"""The ePhoto file: the photo, the signature and their metadata, made by the booth at issue time.

What the state accepts is not the number but the file it points to. The booth makes the file in
the same transaction as the sale, uploads it to the operator's collector, which checks and seals
it; the state fetches it from the collector when the citizen uses the number.

cabine's own convention (the real format is not public; in real life the photo follows
ISO/IEC 19794-5):

- photo: a baseline JPEG, RGB, exactly 413 x 531 pixels (35 x 45 mm at 300 dpi, the proportions
  of the printed photo), at most 100,000 bytes; the booth lowers the JPEG quality from 92 until
  the photo fits;
- signature: a greyscale (mode L) PNG, exactly 600 x 200 pixels (the pad's 3:1), at most 32,000
  bytes;
- metadata: the number, the booth, the operator (the number's prefix), the issue time (UTC), the
  product, the procedure (``permis`` or ``titre-sejour``) and the SHA-256 of each image.

Uploads from a booth to its collector (``POST /v1/files``, signed as ``/v1/batches`` is, see
:mod:`ephoto.wire`) carry at most :data:`MAX_FILES_PER_UPLOAD` files and
:data:`MAX_UPLOAD_BYTES` of JSON; images travel as base64 inside the JSON body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, UnidentifiedImageError

from ephoto.clock import ensure_utc, parse_utc
from ephoto.code import normalize, problems_in
from ephoto.vocabulary import PROCEDURES

PHOTO_SIZE = (413, 531)  # width x height in pixels: 35 x 45 mm at 300 dpi
PHOTO_MAX_BYTES = 100_000
PHOTO_QUALITIES = (92, 88, 84, 80, 75, 70, 65, 60, 50, 40)
SIGNATURE_SIZE = (600, 200)
SIGNATURE_MAX_BYTES = 32_000

FILES_PATH = "/v1/files"
MAX_FILES_PER_UPLOAD = 50
# The largest upload a collector accepts: every file at its budget, base64 (4/3) and some JSON.
MAX_UPLOAD_BYTES = MAX_FILES_PER_UPLOAD * (PHOTO_MAX_BYTES + SIGNATURE_MAX_BYTES) * 4 // 3 + 65_536


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileMeta:
    """What the seal covers: who issued which number for what, and the digest of each image."""

    code: str
    booth_id: str
    operator: str
    issued_at: datetime
    product: str
    procedure: str
    photo_sha256: str
    signature_sha256: str

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "booth_id": self.booth_id,
            "operator": self.operator,
            "issued_at": ensure_utc(self.issued_at).isoformat().replace("+00:00", "Z"),
            "product": self.product,
            "procedure": self.procedure,
            "photo_sha256": self.photo_sha256,
            "signature_sha256": self.signature_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileMeta:
        """Raises :class:`FileRejected` naming the first missing or mistyped field."""
        values: dict[str, str] = {}
        for name in META_FIELDS:
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise FileRejected([FileProblem(name, "missing", f"{name} must be a text")])
            values[name] = value
        try:
            issued_at = parse_utc(values["issued_at"])
        except ValueError:
            raise FileRejected(
                [FileProblem("issued_at", "format", "issued_at must be an ISO 8601 time")]
            ) from None
        return cls(
            code=values["code"],
            booth_id=values["booth_id"],
            operator=values["operator"],
            issued_at=issued_at,
            product=values["product"],
            procedure=values["procedure"],
            photo_sha256=values["photo_sha256"],
            signature_sha256=values["signature_sha256"],
        )


META_FIELDS = (
    "code",
    "booth_id",
    "operator",
    "issued_at",
    "product",
    "procedure",
    "photo_sha256",
    "signature_sha256",
)


@dataclass(frozen=True)
class EphotoFile:
    meta: FileMeta
    photo_jpeg: bytes
    signature_png: bytes

    @property
    def code(self) -> str:
        return self.meta.code

    @property
    def size_bytes(self) -> int:
        return len(self.photo_jpeg) + len(self.signature_png)

    def to_wire(self) -> dict[str, str]:
        return {
            **self.meta.to_dict(),
            "photo_jpeg": base64.b64encode(self.photo_jpeg).decode("ascii"),
            "signature_png": base64.b64encode(self.signature_png).decode("ascii"),
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> EphotoFile:
        """Decode one file of an upload; raises :class:`FileRejected` naming the field."""
        meta = FileMeta.from_dict(data)
        images: dict[str, bytes] = {}
        for name in ("photo_jpeg", "signature_png"):
            value = data.get(name)
            if not isinstance(value, str):
                raise FileRejected([FileProblem(name, "missing", f"{name} must be base64 text")])
            try:
                images[name] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise FileRejected([FileProblem(name, "base64", f"{name} is not base64")]) from None
        return cls(meta, images["photo_jpeg"], images["signature_png"])


@dataclass(frozen=True)
class FileProblem:
    """One broken rule: the field it is about, a short rule name, and a sentence for people."""

    field: str
    rule: str
    message: str


class FileRejected(ValueError):
    def __init__(self, problems: Sequence[FileProblem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


# --- Making a file at the booth --------------------------------------------------------------


def _fit(
    image: Image.Image, size: tuple[int, int], background: int | tuple[int, int, int]
) -> Image.Image:
    """Scale ``image`` to cover ``size`` keeping its proportions, then crop the centre."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    scaled = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left = (scaled.width - width) // 2
    top = (scaled.height - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def encode_photo(image: Image.Image) -> bytes:
    """The ID photo as the file's JPEG: 413 x 531, the best quality within the byte budget."""
    photo = _fit(image.convert("RGB"), PHOTO_SIZE, (255, 255, 255))
    for quality in PHOTO_QUALITIES:
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality, optimize=True)
        if buffer.tell() <= PHOTO_MAX_BYTES:
            return buffer.getvalue()
    raise ValueError(f"the photo does not fit in {PHOTO_MAX_BYTES} bytes even at low quality")


def encode_signature(image: Image.Image) -> bytes:
    """The signature as the file's PNG: greyscale 600 x 200, the drawing fitted inside on white."""
    grey = image.convert("L")
    width, height = SIGNATURE_SIZE
    scale = min(width / grey.width, height / grey.height)
    fitted = grey.resize(
        (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
        Image.Resampling.LANCZOS,
    )
    canvas = Image.new("L", SIGNATURE_SIZE, 255)
    canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG", optimize=True)
    if buffer.tell() > SIGNATURE_MAX_BYTES:
        raise ValueError(f"the signature does not fit in {SIGNATURE_MAX_BYTES} bytes")
    return buffer.getvalue()


def make_file(
    *,
    code: str,
    booth_id: str,
    issued_at: datetime,
    product: str,
    procedure: str,
    photo: Image.Image,
    signature: Image.Image,
) -> EphotoFile:
    """The file for one issued number; its operator is the number's prefix."""
    photo_jpeg = encode_photo(photo)
    signature_png = encode_signature(signature)
    meta = FileMeta(
        code=code,
        booth_id=booth_id,
        operator=code[:4],
        issued_at=ensure_utc(issued_at),
        product=product,
        procedure=procedure,
        photo_sha256=sha256_hex(photo_jpeg),
        signature_sha256=sha256_hex(signature_png),
    )
    return EphotoFile(meta, photo_jpeg, signature_png)


# --- Checking a file (the collector on receipt, the state at fetch) --------------------------


def _image_problems(
    data: bytes,
    field: str,
    expected_format: str,
    expected_mode: str,
    size: tuple[int, int],
    budget: int,
) -> list[FileProblem]:
    if len(data) > budget:
        return [FileProblem(field, "budget", f"{len(data)} bytes, at most {budget}")]
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected_format:
                return [
                    FileProblem(
                        field, "format", f"{image.format or 'unknown'}, {expected_format} expected"
                    )
                ]
            # The header gives the size before any pixel is decoded: no decompression bomb.
            if image.size != size:
                return [
                    FileProblem(
                        field,
                        "size",
                        f"{image.width} x {image.height} pixels, {size[0]} x {size[1]} expected",
                    )
                ]
            if image.mode != expected_mode:
                return [FileProblem(field, "mode", f"mode {image.mode}, {expected_mode} expected")]
            if expected_format == "JPEG":
                # Decoded at 1/8 scale: libjpeg still reads every coefficient of the whole
                # stream (a truncated or broken one fails the same), but skips most of the
                # inverse DCT and the colour conversion: 40 % less time a photo.
                image.draft(expected_mode, (size[0] // 8, size[1] // 8))
            image.load()  # a truncated or corrupt image fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return [FileProblem(field, "decode", f"does not decode as {expected_format} ({exc})")]
    return []


def file_problems(file: EphotoFile, operators: tuple[str, ...] | None = None) -> list[FileProblem]:
    """Every rule the file breaks, in field order; empty when the file is acceptable.

    ``operators``: the prefixes the sender may issue (``None``: any well-formed prefix).
    """
    meta = file.meta
    problems: list[FileProblem] = []
    code_problems = problems_in(meta.code, operators)
    if code_problems:
        problems.append(FileProblem("code", code_problems[0].rule, code_problems[0].detail))
    elif normalize(meta.code) != meta.code:
        problems.append(
            FileProblem("code", "characters", "the number must be written without spaces")
        )
    elif meta.operator != meta.code[:4]:
        problems.append(
            FileProblem("operator", "prefix", f"{meta.operator!r} is not the number's prefix")
        )
    if meta.procedure not in PROCEDURES:
        problems.append(
            FileProblem(
                "procedure", "unknown", f"{meta.procedure!r}, one of {', '.join(PROCEDURES)}"
            )
        )
    problems += _image_problems(
        file.photo_jpeg, "photo_jpeg", "JPEG", "RGB", PHOTO_SIZE, PHOTO_MAX_BYTES
    )
    problems += _image_problems(
        file.signature_png, "signature_png", "PNG", "L", SIGNATURE_SIZE, SIGNATURE_MAX_BYTES
    )
    if sha256_hex(file.photo_jpeg) != meta.photo_sha256:
        problems.append(FileProblem("photo_sha256", "digest", "does not match the photo"))
    if sha256_hex(file.signature_png) != meta.signature_sha256:
        problems.append(FileProblem("signature_sha256", "digest", "does not match the signature"))
    return problems


# --- The booth-to-collector upload -----------------------------------------------------------


@dataclass(frozen=True)
class FileUpload:
    """One upload of files from a booth: an idempotency key, the booth, and its files."""

    upload_id: str
    booth_id: str
    files: tuple[EphotoFile, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "upload_id": self.upload_id,
                "booth_id": self.booth_id,
                "files": [f.to_wire() for f in self.files],
            },
            separators=(",", ":"),
        ).encode()

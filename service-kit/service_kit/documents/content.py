"""What an uploaded file is, read from its bytes; and a photo without its location.

The type comes from the content's magic bytes (puremagic), never from the file's name or the type its sender
declared: a name or a declared type that says otherwise is a lie, refused with 415, as is any type Linli does not
take. A photo's EXIF GPS block is removed (Pillow) unless its purpose keeps it (delivery evidence)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import puremagic
from PIL import Image, UnidentifiedImageError

from service_kit.errors import UnsupportedMediaType

# What Linli takes, and the file name endings that may stand for each.
ACCEPTED: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg", ".jpe"}),
    "image/png": frozenset({".png"}),
    "application/pdf": frozenset({".pdf"}),
}
EXTENSION = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
# Other names senders use for an accepted type.
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}
PHOTOS = frozenset({"image/jpeg", "image/png"})
# What a sender may declare without saying anything (browsers and curl send these for unknown files).
UNSPECIFIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})
GPS_IFD = 0x8825
# A photo larger than this many pixels is refused rather than decoded (a decompression bomb).
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    extension: str  # the usual one for the type, for a download's file name


def sniff(data: bytes, *, filename: str | None, declared_type: str | None) -> Sniffed:
    """The type of ``data``; 415 when it is none Linli takes, or when ``filename`` or ``declared_type`` lies."""
    try:
        media_type = puremagic.from_string(data, mime=True) if data else ""
    except puremagic.PureError:
        media_type = ""
    if media_type not in ACCEPTED:
        raise UnsupportedMediaType(
            "The file is none of the types Linli takes: JPEG or PNG photos, PDF documents.",
            accepted=sorted(ACCEPTED),
        )
    suffix = PurePath(filename or "").suffix.lower()
    if suffix and suffix not in ACCEPTED[media_type]:
        raise UnsupportedMediaType(
            f"The file is named {suffix} but its content is {media_type}.",
            code="lying_extension",
            content_type=media_type,
        )
    declared = (declared_type or "").split(";", 1)[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    if declared not in UNSPECIFIC and declared != media_type:
        raise UnsupportedMediaType(
            f"The file was sent as {declared} but its content is {media_type}.",
            code="lying_content_type",
            content_type=media_type,
        )
    return Sniffed(media_type, EXTENSION[media_type])


def has_location(data: bytes) -> bool:
    """Whether a photo's EXIF holds a GPS block."""
    with _opened(data) as image:
        return bool(image.getexif().get_ifd(GPS_IFD))


def without_location(data: bytes, media_type: str) -> bytes:
    """The photo with its EXIF GPS block removed (the rest of EXIF, e.g. orientation, kept); ``data`` itself when
    it has none. JPEG keeps its quantisation tables (``quality="keep"``): the picture is not degraded."""
    if media_type not in PHOTOS:
        return data
    with _opened(data) as image:
        exif = image.getexif()
        if GPS_IFD not in exif and not exif.get_ifd(GPS_IFD):
            return data
        del exif[GPS_IFD]
        out = io.BytesIO()
        if media_type == "image/jpeg":
            image.save(out, format="JPEG", exif=exif.tobytes(), quality="keep")
        else:
            image.save(out, format="PNG", exif=exif.tobytes())
        return out.getvalue()


class _opened:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __enter__(self) -> Image.Image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(self.data))
                if image.width * image.height > MAX_PIXELS:
                    raise UnsupportedMediaType(f"The photo has more than {MAX_PIXELS} pixels.", code="photo_too_large")
                image.load()
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as exc:
            raise UnsupportedMediaType("The photo cannot be read.", code="unreadable_photo") from exc
        self.image = image
        return image

    def __exit__(self, *_: object) -> None:
        self.image.close()

"""Thumbnail geometry: how an image of known size fills a fixed box without distortion.

The "More from" picks share one box (the template's width × height, 3:2 by default).
:func:`thumbnail` scales the image, from its stored width and height, so that it covers
the box, and says how far to shift it so that the box, which clips, shows its centre.
It also gives the size that fits inside the box, for the ``width``/``height`` attributes
that clients without CSS sizing (Outlook for Windows) go by. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from syndicate.models import Image


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """An image's display geometry in a ``box_width`` × ``box_height`` box (pixels).

    ``width`` × ``height`` covers the box (``height`` is 0 when the image's size is not
    known: the template then lets the height follow the picture); ``left`` and ``top``
    are the pixels cut on the left and at the top to centre it. ``fit_width`` ×
    ``fit_height`` fits inside the box, keeping the image's proportions.
    """

    box_width: int
    box_height: int
    width: int
    height: int
    left: int
    top: int
    fit_width: int
    fit_height: int

    @property
    def known(self) -> bool:
        """Whether the image's size was known (else the box's width is all there is)."""
        return self.height > 0


def thumbnail(image: Image | None, box_width: int, box_height: int) -> Thumbnail:
    """How ``image`` fills a ``box_width`` × ``box_height`` box (see :class:`Thumbnail`)."""
    if box_width < 1 or box_height < 1:
        raise ValueError(f"a thumbnail box needs a positive size, not {box_width}×{box_height}")
    if image is None or not image.width or not image.height or image.width < 1 or image.height < 1:
        return Thumbnail(box_width, box_height, box_width, 0, 0, 0, box_width, box_height)
    w, h = image.width, image.height
    cover = max(box_width / w, box_height / h)
    width, height = max(box_width, round(w * cover)), max(box_height, round(h * cover))
    fit = min(box_width / w, box_height / h)
    return Thumbnail(
        box_width=box_width,
        box_height=box_height,
        width=width,
        height=height,
        left=(width - box_width) // 2,
        top=(height - box_height) // 2,
        fit_width=max(1, min(box_width, round(w * fit))),
        fit_height=max(1, min(box_height, round(h * fit))),
    )

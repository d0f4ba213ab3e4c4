"""Photos on the Sketch page (issue 23 items 5 and 6): a photo uploaded without "It is a photo" is recognised,
and a photo's edges keep a face's small features (found at a higher resolution, then thinned)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from gan_core.img2img import translate as T
from gan_core.data.edges import thin_lines
from gan_core.data.faces import generate_faces


def _photo(seed: int = 3, size: int = 192) -> np.ndarray:
    """A "photo" of a face: shading, sensor noise and a slight blur over a procedural face."""
    img, _ = generate_faces(1, size, seed)
    a = img[0].transpose(1, 2, 0).astype(np.float32)
    rng = np.random.default_rng(seed)
    a = a * (0.8 + 0.3 * np.linspace(0, 1, size)[:, None, None]) + rng.normal(0, 8, a.shape)
    return np.asarray(Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2)))


def _small_featured_face() -> np.ndarray:
    """A 256 px face whose nose is a thin line: at 32 px it is a fraction of a pixel wide."""
    im = Image.new("RGB", (256, 256), (170, 190, 215))
    d = ImageDraw.Draw(im)
    d.ellipse((60, 40, 196, 220), fill=(235, 200, 180))
    for cx in (100, 156):
        d.ellipse((cx - 7, 110, cx + 7, 122), fill=(60, 40, 30))
    d.line((128, 130, 124, 158), fill=(180, 130, 110), width=3)
    d.line((108, 178, 148, 178), fill=(150, 60, 60), width=4)
    return np.asarray(im)


def test_photo_like_uploads_are_recognised_and_drawings_are_not():
    assert T.photo_likeness(_photo())[0]
    face, edges = T.random_face_edges(3, 32)
    drawing = T.enlarge(edges, 8)
    assert not T.photo_likeness(drawing)[0]
    dabs = drawing.copy()
    dabs[100:140, 100:140], dabs[40:60, 200:230] = (200, 60, 60), (60, 200, 60)     # a drawing with colour dabs
    looks, why = T.photo_likeness(dabs)
    assert not looks and why.endswith("plain paper or lines")


def test_a_photo_uploaded_without_the_box_is_read_as_a_photo_with_a_note():
    drawing, as_photo, note = T.upload_drawing(_photo(), 32, scale=4)
    assert as_photo and "looks like a photo" in note and "It is a photo" in note
    assert drawing.shape == (128, 128, 3) and set(np.unique(drawing)) <= {0, 255}    # its edges, not colour dabs
    ticked = T.upload_drawing(_photo(), 32, scale=4, photo=True)
    assert ticked[1] and ticked[2] == "" and np.array_equal(ticked[0], drawing)
    face, edges = T.random_face_edges(3, 32)
    kept, as_photo, note = T.upload_drawing(T.enlarge(edges, 8), 32)                 # a drawing stays a drawing
    assert not as_photo and note == "" and np.array_equal(kept, T.enlarge(edges, 8))


def test_photo_edges_keep_small_features_in_thin_lines():
    pic = _small_featured_face()
    nose = (slice(16, 20), slice(14, 18))                   # rows 130..158, columns 124..131 of 256, at 32 px
    old = T.edges_of_photo(pic, 32, detail=1)[0].numpy() == 0
    new = T.edges_of_photo(pic, 32)[0].numpy() == 0
    assert not old[nose].any() and new[nose].any()         # the nose was lost at 32 px; now it has a line
    assert new[12:16, 11:14].any() and new[12:16, 18:21].any()   # both eyes
    blocks = new[:-1, :-1] & new[1:, :-1] & new[:-1, 1:] & new[1:, 1:]
    assert not blocks.any()                                 # one-pixel lines, no 2x2 clumps


def test_thinning_makes_one_pixel_lines_and_keeps_them_connected():
    bar = np.zeros((12, 20), bool)
    bar[4:8, 2:18] = True                                   # a 4 px thick bar
    t = thin_lines(bar)
    assert t.any() and (t.sum(axis=0)[4:16] == 1).all()     # one pixel thick along its middle
    assert not thin_lines(np.zeros((5, 5), bool)).any()

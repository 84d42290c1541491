"""Load Portrait without a face detector: the 'whole image' and 'box' crop modes (geometry, content,
paste-back), the mask's bounding box, the errors users meet, and the ratios that need human landmarks."""

from __future__ import annotations

import pytest
import torch

from playmate_core.face.geometry import apply, rescale_square
from playmate_core.face.portrait import load_region_portraits, paste_back
from playmate_core.face.region import Region
from playmate_core.render.driving import RenderOptions, check_retargeting

HEIGHT, WIDTH = 300, 400


def ramp_photo(height: int = HEIGHT, width: int = WIDTH) -> torch.Tensor:
    """[1, H, W, 3]: channel 0 = a linear function of (x, y), which bilinear sampling reproduces exactly."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    ramp = 0.1 + 0.001 * xs + 0.0015 * ys
    noise = torch.rand(height, width, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return torch.cat([ramp[..., None], noise], dim=-1).float()[None]


def network_matrix(portrait) -> torch.Tensor:
    """photo pixels -> pixels of the 256 network crop."""
    return rescale_square(portrait.image_to_crop, 512, 256)[0]


def edges(region: Region) -> torch.Tensor:
    """The region's outer pixel edges (top-left, bottom-right) in pixel-centre coordinates."""
    return torch.tensor([[[region.x0 - 0.5, region.y0 - 0.5], [region.x1 - 0.5, region.y1 - 0.5]]], dtype=torch.float64)


SQUARE_EDGES = torch.tensor([[[-0.5, -0.5], [255.5, 255.5]]], dtype=torch.float64)


@pytest.mark.parametrize("box", [Region(50, 40, 306, 296), Region(10, 20, 390, 120), Region(100, 30, 180, 290)])
def test_box_edges_map_onto_the_network_square(box):
    portrait = load_region_portraits(ramp_photo(), "box", box)
    torch.testing.assert_close(apply(network_matrix(portrait)[None], edges(box)), SQUARE_EDGES, rtol=0, atol=1e-12)
    assert portrait.boxes.tolist() == [[box.x0, box.y0, box.x1, box.y1]]


def test_whole_image_is_the_photo_stretched_or_letterboxed():
    photo = ramp_photo()
    stretched = load_region_portraits(photo, "whole image")
    torch.testing.assert_close(apply(network_matrix(stretched)[None], edges(Region(0, 0, WIDTH, HEIGHT))),
                               SQUARE_EDGES, rtol=0, atol=1e-12)
    boxed = load_region_portraits(photo, "whole image", letterbox=True)
    # the 400x400 square centred on the 400x300 photo: 50 black rows above and below
    torch.testing.assert_close(apply(network_matrix(boxed)[None], edges(Region(0, -50, 400, 350))), SQUARE_EDGES,
                               rtol=0, atol=1e-12)
    rows_per_pixel = 400 / 256
    bar = int(50 / rows_per_pixel)  # crop rows entirely in the bars
    assert boxed.crops[0, :, :bar - 1].abs().max() == 0 and boxed.crops[0, :, -(bar - 1):].abs().max() == 0
    assert boxed.crops[0, :, bar + 2:-(bar + 2)].min() > 0


def test_a_network_sized_box_is_copied_unchanged():
    photo = ramp_photo()
    portrait = load_region_portraits(photo, "box", Region(50, 40, 306, 296))
    assert torch.equal(portrait.crops[0], photo[0, 40:296, 50:306].permute(2, 0, 1))
    square = torch.rand(1, 256, 256, 3)  # the official no-crop path's input: a 256x256 image is used as is
    assert torch.equal(load_region_portraits(square, "whole image").crops[0], square[0].permute(2, 0, 1))


@pytest.mark.parametrize("box,letterbox,shrinks", [
    (Region(40, 40, 200, 200), False, False), (Region(120, 60, 330, 200), True, False),
    (Region(10, 20, 390, 120), False, True), (Region(100, 30, 180, 290), False, True),
    (Region(0, 0, 400, 300), False, True)])
def test_crop_content_is_sampled_where_the_matrix_says(box, letterbox, shrinks):
    """Away from the border (where the filter is cut), each crop pixel holds the ramp's value at the photo point
    the inverse matrix gives. Enlarged regions: exact up to float32 (1e-6). Shrunk regions are antialiased, and
    the filter's discrete weights move single samples by up to ~0.1 px (1.7e-4 on this ramp, as PIL's do), but
    not on average (mean error ~1e-8); a half-pixel convention slip would shift the mean by >= 5e-4."""
    portrait = load_region_portraits(ramp_photo(), "box", box, letterbox=letterbox)
    grid = torch.stack(torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="xy"), -1).double()
    spots = apply(torch.linalg.inv(network_matrix(portrait))[None], grid.view(1, -1, 2))[0].view(256, 256, 2)
    expected = 0.1 + 0.001 * spots[..., 0] + 0.0015 * spots[..., 1]
    error = (portrait.crops[0, 0].double() - expected)[4:-4, 4:-4]
    assert error.abs().max() < (2.5e-4 if shrinks else 1e-6)
    assert error.mean().abs() < 1e-6


def test_mask_bounding_box_is_the_crop():
    photo = ramp_photo()
    mask = torch.zeros(1, HEIGHT, WIDTH)
    mask[0, 60:200, 120:330] = 1.0
    mask[0, 59, 200] = 0.4  # below the threshold: not part of the box
    from_mask = load_region_portraits(photo, "box", mask=mask)
    from_box = load_region_portraits(photo, "box", Region(120, 60, 330, 200))
    assert from_mask.boxes.tolist() == [[120, 60, 330, 200]]
    assert torch.equal(from_mask.crops, from_box.crops) and torch.equal(from_mask.image_to_crop, from_box.image_to_crop)


@pytest.mark.parametrize("letterbox", [False, True])
def test_box_paste_back_leaves_everything_outside_the_box_bit_identical(letterbox):
    photo = ramp_photo()
    box = Region(120, 60, 330, 200)
    portrait = load_region_portraits(photo, "box", box, letterbox=letterbox)
    rendered = torch.full((2, 3, 512, 512), 0.75)
    frames, mask = paste_back(rendered, portrait, 0)
    area = box.square() if letterbox else box
    outside = torch.ones(HEIGHT, WIDTH, dtype=torch.bool)
    outside[max(area.y0, 0):area.y1, max(area.x0, 0):area.x1] = False
    assert torch.equal(frames[:, outside], photo[0][outside].expand(2, -1, 3))
    assert mask[outside].max() == 0
    middle = frames[:, (area.y0 + area.y1) // 2, (area.x0 + area.x1) // 2]
    torch.testing.assert_close(middle, torch.full_like(middle, 0.75), rtol=0, atol=1e-6)


def test_whole_image_paste_back_undoes_the_stretch():
    """A render of the stretched crop pasted back lands where it came from: the ramp comes back."""
    photo = ramp_photo()
    portrait = load_region_portraits(photo, "whole image")
    crop = portrait.crops[:, :1].expand(1, 3, -1, -1)
    rendered = torch.nn.functional.interpolate(crop, size=(512, 512), mode="bilinear", align_corners=False)
    frames, mask = paste_back(rendered, portrait, 0, feather=0.1)
    inside = mask[:, :] == 1
    assert inside[HEIGHT // 2, WIDTH // 2] and inside.float().mean() > 0.6
    torch.testing.assert_close(frames[0, ..., 0][inside], photo[0, ..., 0][inside], rtol=0, atol=3e-3)


@pytest.mark.parametrize("kwargs,message", [
    ({"box": Region(300, 100, 420, 250)}, r"box \(300, 100, 420, 250\) reaches outside the 400x300 image"),
    ({"box": Region(-5, 100, 100, 250)}, "reaches outside the 400x300 image: keep 0 <= box_x0"),
    ({"box": Region(10, 10, 70, 60)}, r"box \(10, 10, 70, 60\) is 60x50 px; the crop needs at least 64 px"),
    ({"box": Region(0, 0, 0, 0)}, r"box \(0, 0, 0, 0\) is empty: set box_x1 > box_x0"),
    ({"mask": torch.zeros(HEIGHT, WIDTH)}, "mask is empty: no pixel is 0.5 or more"),
    ({"mask": torch.ones(1, 100, 100)}, r"mask is shaped \(1, 100, 100\) but the image batch is 1 x 300 x 400"),
    ({}, "crop_mode 'box' needs a box"),
])
def test_bad_boxes_and_masks_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_region_portraits(ramp_photo(), "box", **kwargs)


def test_a_small_mask_names_the_mask():
    mask = torch.zeros(HEIGHT, WIDTH)
    mask[10:40, 10:200] = 1
    with pytest.raises(ValueError, match=r"the mask's bounding box \(10, 10, 200, 40\) is 190x30 px"):
        load_region_portraits(ramp_photo(), "box", mask=mask)


def test_no_landmarks_means_no_ratios_and_retargeting_says_why():
    portrait = load_region_portraits(ramp_photo(), "whole image")
    assert portrait.crop_mode == "whole image"
    assert portrait.eye_ratio is None and portrait.lip_ratio is None and portrait.landmarks is None
    from playmate_core.implicit.source import SourceFeatures

    source = SourceFeatures(torch.zeros(1, 1, 1, 1, 1), torch.zeros(1, 21, 3), torch.zeros(1, 70))
    check_retargeting(source, RenderOptions())  # nothing asked, nothing needed
    with pytest.raises(ValueError, match="eye_retargeting needs .* crop_mode 'whole "
                                         "image' or 'box'.* turn eye_retargeting off"):
        check_retargeting(source, RenderOptions(eye_open=0.3))
    with pytest.raises(ValueError, match="lip_retargeting needs the source portrait's lip openness"):
        check_retargeting(source, RenderOptions(lip_open=0.0))


def test_load_portrait_node_crop_modes(pack):
    node = pack.NODE_CLASS_MAPPINGS["PlaymateLoadPortrait"]()
    photo = ramp_photo()
    face_args = (photo, 0, 2.3, 0.0, -0.125, True, "auto")
    portrait, crop, face_mask = node.load(*face_args, crop_mode="box", box_x0=120, box_y0=60, box_x1=330, box_y1=200)
    assert portrait.crop_mode == "box" and crop.shape == (1, 256, 256, 3) and face_mask.shape == (1, HEIGHT, WIDTH)
    assert face_mask[0, :60].max() == 0 and face_mask[0, 130, 225] == 1
    mask = torch.zeros(1, HEIGHT, WIDTH)
    mask[0, 60:200, 120:330] = 1
    from_mask, _, _ = node.load(*face_args, crop_mode="box", mask=mask)
    assert torch.equal(from_mask.crops, portrait.crops)
    whole, _, _ = node.load(*face_args, crop_mode="whole image", letterbox=True)
    assert whole.crops[0, :, 0].abs().max() == 0  # the top letterbox bar
    with pytest.raises(ValueError, match=r"box \(0, 0, 0, 0\) is empty: set box_x1 > box_x0"):
        node.load(*face_args, crop_mode="box")
    with pytest.raises(ValueError, match="a mask is connected but crop_mode is 'face'"):
        node.load(*face_args, mask=mask)


def test_one_mask_per_image_gives_one_box_per_image():
    photos = torch.cat([ramp_photo(), ramp_photo().flip(1)])
    masks = torch.zeros(2, HEIGHT, WIDTH)
    masks[0, 10:110, 20:120] = 1
    masks[1, 150:290, 200:390] = 1
    portrait = load_region_portraits(photos, "box", mask=masks)
    assert portrait.boxes.tolist() == [[20, 10, 120, 110], [200, 150, 390, 290]]
    for b, box in enumerate((Region(20, 10, 120, 110), Region(200, 150, 390, 290))):
        single = load_region_portraits(photos[b:b + 1], "box", box)
        assert torch.equal(portrait.crops[b], single.crops[0])
    masks[1] = 0
    with pytest.raises(ValueError, match=r"mask is empty \(image 1 of the batch\)"):
        load_region_portraits(photos, "box", mask=masks)

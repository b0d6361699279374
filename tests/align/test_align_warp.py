import cv2
import numpy as np

from uhr4k.align.warp import fit_crop, valid_rectangle, validity_mask, warp_to_background


def test_integer_translation_moves_pixels_exactly_and_masks_the_uncovered_border():
    rng = np.random.default_rng(0)
    glass = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    H = np.array([[1, 0, 5.0], [0, 1, -3.0], [0, 0, 1]])  # glass (x, y) lands on background (x + 5, y - 3)
    warped, mask = warp_to_background(glass, H, (80, 60))
    np.testing.assert_array_equal(warped[10:50, 10:70], glass[13:53, 5:65])
    assert mask[:, :5].max() == 0 and mask[-3:, :].max() == 0     # never seen through the glass
    assert mask[10:50, 10:70].min() == 255
    x, y, w, h = valid_rectangle(mask)
    assert mask[y:y + h, x:x + w].min() == 255
    # the uncovered strips are 5 (left) and 3 (bottom) px, plus the interpolation margin of 2 px
    assert 5 <= x <= 7 and y <= 2 and w >= 80 - 5 - 4 and h >= 60 - 3 - 4


def test_sixteen_bit_images_stay_sixteen_bit():
    glass = np.full((30, 40, 3), 40000, np.uint16)
    warped, _ = warp_to_background(glass, np.eye(3), (40, 30))
    assert warped.dtype == np.uint16 and warped[15, 20, 0] == 40000


def test_valid_rectangle_inside_a_rotated_quad_is_valid_and_large():
    H = cv2.getRotationMatrix2D((320, 200), 3.0, 1.0)
    H = np.vstack([H, [0, 0, 1]])
    mask = validity_mask(H, (640, 400), (640, 400))
    x, y, w, h = valid_rectangle(mask)
    assert mask[y:y + h, x:x + w].min() == 255
    # the largest axis-aligned rectangle inside a 3 degree rotated frame keeps about 84 % of the area
    assert w * h > 0.8 * 640 * 400


def test_valid_rectangle_of_an_empty_mask_and_fit_crop():
    assert valid_rectangle(np.zeros((10, 10), np.uint8)) == (0, 0, 0, 0)
    assert fit_crop((10, 20, 100, 50), (60, 30)) == (30, 30, 60, 30)
    assert fit_crop((10, 20, 100, 50), None) == (10, 20, 100, 50)
    assert fit_crop((10, 20, 100, 50), (101, 30)) is None

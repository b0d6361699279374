import cv2
import numpy as np
import pytest

from uhr4k.align.estimate import (
    EstimateSettings,
    EstimationError,
    corner_error,
    detect_orb,
    estimate_homography,
    match_descriptors,
    plain_recipe_homography,
    refine_ecc,
    resize_matrix,
    scale_homography,
    to_gray,
    transfer,
)
from uhr4k.align.simulate import GlassParams
from uhr4k.core.images import read_image

from align_material import PAIR_SIZE, glass_pair, scene


def test_graf_img1_to_img2_within_one_pixel_of_ground_truth(shared_data):
    graf = shared_data / "graf"
    glass, background = read_image(graf / "img1.png"), read_image(graf / "img2.png")
    H_true = np.loadtxt(graf / "H1to2p")
    est = estimate_homography(glass, background)
    err = corner_error(est.H, H_true, glass.shape[1], glass.shape[0])
    assert err < 1.0, f"mean corner error {err:.3f} px"
    assert est.inliers > 300 and est.refined_points > 100


def test_simulated_glass_is_recovered_to_a_small_fraction_of_a_pixel(coffee_pair, coffee_estimate):
    glass, background, H_true = coffee_pair
    est = coffee_estimate
    assert corner_error(est.H, H_true, *PAIR_SIZE) < 0.15
    assert est.rmse_px < 0.5
    # the feature stage alone is clearly coarser: the full-resolution re-matching does real work
    coarse = estimate_homography(glass, background, EstimateSettings(refine_points=0))
    assert corner_error(coarse.H, H_true, *PAIR_SIZE) > corner_error(est.H, H_true, *PAIR_SIZE)


def test_estimation_is_deterministic(coffee_pair, coffee_estimate):
    glass, background, _ = coffee_pair
    a = coffee_estimate
    b = estimate_homography(glass, background)
    np.testing.assert_array_equal(a.H, b.H)
    assert (a.matches, a.inliers) == (b.matches, b.inliers)


def test_textureless_photo_fails_with_reason():
    flat = np.full((400, 640, 3), 90, np.uint8)
    with pytest.raises(EstimationError, match="too few features"):
        estimate_homography(flat, scene()[:400, :640])


def test_unrelated_photos_do_not_give_an_estimate():
    with pytest.raises(EstimationError, match="too few (matches|inliers)"):
        estimate_homography(scene("coffee")[:400, :640], scene("rocket")[:400, :640])


def test_plain_recipe_runs_and_is_less_accurate(coffee_pair, coffee_estimate):
    glass, background, H_true = coffee_pair
    plain = plain_recipe_homography(glass, background)
    ours = coffee_estimate
    assert corner_error(plain, H_true, *PAIR_SIZE) < 10.0  # it does find the pane
    assert corner_error(ours.H, H_true, *PAIR_SIZE) < corner_error(plain, H_true, *PAIR_SIZE)


def test_ecc_converges_from_a_perturbed_start_on_a_clean_pair():
    clean = GlassParams(gain=(1.0, 1.0, 1.0), reflection_weight=0.0, blur_sigma=0.0, noise_sigma=0.0, jpeg_quality=0)
    glass, background, H_true = glass_pair(5, params=clean)
    start = H_true.copy()
    start[0, 2] += 1.2
    start[1, 2] -= 0.8
    H, note = refine_ecc(to_gray(glass), to_gray(background), start)
    assert note == ""
    assert corner_error(H, H_true, *PAIR_SIZE) < 0.2 < corner_error(start, H_true, *PAIR_SIZE)


def test_band_pass_keeps_ecc_on_target_under_a_strong_reflection():
    pane = GlassParams(gain=(0.8, 0.85, 0.8), reflection_weight=0.35, reflection_sigma=0.01, blur_sigma=0.0002,
                       noise_sigma=2 / 255, jpeg_quality=90)
    glass, background, H_true = glass_pair(5, params=pane)
    start = H_true.copy()
    start[0, 2] += 1.0
    start[1, 2] -= 0.8
    banded, _ = refine_ecc(to_gray(glass), to_gray(background), start)
    plain, _ = refine_ecc(to_gray(glass), to_gray(background), start, band_pass=False)
    # plain ECC settles where the reflection pulls it; the band-pass drops the out-of-focus reflection
    assert corner_error(banded, H_true, *PAIR_SIZE) < 0.1 < corner_error(plain, H_true, *PAIR_SIZE)


def test_ecc_keeps_the_start_when_it_cannot_work():
    flat = np.zeros((200, 300), np.float32)
    H, note = refine_ecc(flat, flat, np.eye(3))
    np.testing.assert_array_equal(H, np.eye(3))
    assert "kept the feature estimate" in note


def test_transfer_is_the_projective_map():
    H = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-4, -2e-4, 1.0]])
    x, y = 120.0, 45.0
    w = 1e-4 * x - 2e-4 * y + 1.0
    expected = [(1.01 * x + 0.02 * y + 3.0) / w, (-0.01 * x + 0.99 * y - 2.0) / w]
    np.testing.assert_allclose(transfer(H, [[x, y], [0, 0]]), [expected, [3.0, -2.0]], atol=1e-9)
    assert transfer(H, np.zeros((0, 2))).shape == (0, 2)


def test_scale_homography_agrees_with_resizing_the_images():
    # a pure translation by (4, 2) px becomes (2, 1) px at half size, with centre-aligned pixels
    H = np.array([[1, 0, 4.0], [0, 1, 2.0], [0, 0, 1]])
    np.testing.assert_allclose(scale_homography(H, 0.5), [[1, 0, 2], [0, 1, 1], [0, 0, 1]], atol=1e-12)
    # resize_matrix maps pixel centres: the centre of the 2x2 block (0.5, 0.5) -> pixel 0 at half size
    np.testing.assert_allclose(transfer(resize_matrix(0.5, 0.5), [[0.5, 0.5]]), [[0, 0]], atol=1e-12)


def test_orb_keypoints_are_spread_and_matches_one_to_one(coffee_pair):
    glass, background, _ = coffee_pair
    u8 = lambda img: cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)  # noqa: E731
    pts_a, desc_a = detect_orb(u8(glass), 800, grid=(4, 4))
    pts_b, desc_b = detect_orb(u8(background), 800, grid=(4, 4))
    assert 0 < len(pts_a) <= 800 and desc_a.shape == (len(pts_a), 32)
    cells = np.minimum((pts_a // np.array([160, 100])).astype(int), 3)
    assert len({tuple(c) for c in cells}) >= 14  # keypoints in (almost) every cell
    pairs = match_descriptors(desc_a, desc_b)
    assert len(pairs) > 50
    assert len(np.unique(pairs[:, 1])) == len(pairs) and len(np.unique(pairs[:, 0])) == len(pairs)


def test_bad_shapes_raise_value_error_with_shape():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        to_gray(np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        detect_orb(np.zeros((10, 10, 3), np.uint8), 10)


def test_two_planes_at_different_depths_show_as_low_agreement(coffee_estimate):
    # parallax: the right half of the scene moves 4 px more than the left half between the two shots
    background = scene("coffee", PAIR_SIZE)
    glass = background.copy()
    glass[:, 320:] = np.roll(background, 4, axis=1)[:, 320:]
    glass[:, 2:] = np.roll(glass, -2, axis=1)[:, 2:]
    est = estimate_homography(glass, background)
    assert est.agreement < 0.8, est
    assert coffee_estimate.agreement > 0.95  # one plane seen through simulated glass

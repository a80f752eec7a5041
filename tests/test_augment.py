"""data_tools.augment.Augmenter: seeded, one affine warp per image, input left alone."""
import numpy as np
import pytest

from data_tools.augment import Augmenter

NOTHING = dict(flip=False, max_shift=0.0, max_rotation_deg=0.0, max_zoom=0.0)


@pytest.fixture
def batch():
    """float32 (16, 1, 48, 48) in [0, 1]: random pixels, so any change of geometry shows."""
    return np.random.default_rng(0).random((16, 1, 48, 48), dtype=np.float32)


def test_output_is_a_new_float32_batch_of_the_same_shape(batch):
    out = Augmenter(np.random.default_rng(1))(batch)
    assert out.shape == batch.shape and out.dtype == np.float32
    assert not np.shares_memory(out, batch)


def test_input_is_left_untouched(batch):
    before = batch.copy()
    Augmenter(np.random.default_rng(1))(batch)
    np.testing.assert_array_equal(batch, before)


def test_the_same_seed_gives_the_same_batches(batch):
    first, second = Augmenter(np.random.default_rng(7)), Augmenter(np.random.default_rng(7))
    for _ in range(3):
        np.testing.assert_array_equal(first(batch), second(batch))


def test_different_seeds_give_different_batches(batch):
    assert not np.array_equal(Augmenter(np.random.default_rng(7))(batch), Augmenter(np.random.default_rng(8))(batch))


def test_successive_batches_differ(batch):
    augment = Augmenter(np.random.default_rng(7))
    assert not np.array_equal(augment(batch), augment(batch))


def test_every_image_gets_its_own_transform(batch):
    same_image = np.repeat(batch[:1], 8, axis=0)
    out = Augmenter(np.random.default_rng(3), flip=False)(same_image)
    assert len({image.tobytes() for image in out}) == len(out)


def test_all_zero_config_returns_an_unchanged_copy(batch):
    out = Augmenter(np.random.default_rng(1), **NOTHING)(batch)
    np.testing.assert_array_equal(out, batch)
    assert not np.shares_memory(out, batch)


def test_flip_only_mirrors_about_half_of_the_images_exactly(batch):
    out = Augmenter(np.random.default_rng(2), **{**NOTHING, "flip": True})(batch)
    mirrored = [np.array_equal(after, before[:, :, ::-1]) for after, before in zip(out, batch)]
    unchanged = [np.array_equal(after, before) for after, before in zip(out, batch)]
    assert all(m != u for m, u in zip(mirrored, unchanged))   # each image exactly one of the two
    assert 0 < sum(mirrored) < len(out)


def test_edges_are_filled_with_the_nearest_pixel_not_black():
    # A constant image stays constant under any warp only if the border repeats the edge.
    grey = np.full((8, 1, 48, 48), 0.5, dtype=np.float32)
    out = Augmenter(np.random.default_rng(4), max_shift=0.3, max_rotation_deg=45, max_zoom=0.3)(grey)
    np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_shift_moves_the_content_by_at_most_max_shift():
    # One bright pixel at the centre: with shift only, it lands within 10% of 48 = 4.8 pixels.
    dot = np.zeros((32, 1, 48, 48), dtype=np.float32)
    dot[:, 0, 24, 24] = 1.0
    out = Augmenter(np.random.default_rng(5), **{**NOTHING, "max_shift": 0.1})(dot)
    rows, cols = np.unravel_index(out[:, 0].reshape(32, -1).argmax(axis=1), (48, 48))
    assert np.all(np.abs(rows - 24) <= 5) and np.all(np.abs(cols - 24) <= 5)
    assert np.any(rows != 24) or np.any(cols != 24)


def changed_pixels(out, value):
    """(N,) bool masks (N, H*W) of the pixels of a constant-`value` batch that are no longer `value`."""
    return (np.abs(out[:, 0] - value) > 1e-6).reshape(len(out), -1)


def test_erasing_replaces_one_rectangle_of_each_chosen_image_with_noise():
    grey = np.full((64, 1, 48, 48), 0.5, dtype=np.float32)
    out = Augmenter(np.random.default_rng(6), **NOTHING, erase_prob=1.0)(grey)
    low, high = Augmenter.ERASE_AREA
    for mask in changed_pixels(out, 0.5).reshape(64, 48, 48):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        assert mask.sum() > 0.99 * box                   # one filled rectangle (noise may hit 0.5 itself)
        assert 0.5 * low * 48 * 48 <= box <= 1.2 * high * 48 * 48
    assert out.min() >= 0 and out.max() < 1             # the range of normalized faces


def test_erasing_picks_about_erase_prob_of_the_images():
    grey = np.full((400, 1, 48, 48), 0.5, dtype=np.float32)
    out = Augmenter(np.random.default_rng(7), **NOTHING, erase_prob=0.3)(grey)
    assert 0.2 < changed_pixels(out, 0.5).any(axis=1).mean() < 0.4


def test_no_erasing_leaves_the_random_stream_as_before(batch):
    # Runs made before erasing existed resume exactly: erase_prob 0 draws nothing.
    np.testing.assert_array_equal(Augmenter(np.random.default_rng(9))(batch),
                                  Augmenter(np.random.default_rng(9), erase_prob=0.0)(batch))
    with_erasing = Augmenter(np.random.default_rng(9), erase_prob=0.5)
    assert not np.array_equal(with_erasing(batch), Augmenter(np.random.default_rng(9))(batch))


@pytest.mark.parametrize("bad", [dict(max_shift=-0.1), dict(max_rotation_deg=-1), dict(max_zoom=1.0),
                                 dict(erase_prob=1.5), dict(erase_prob=-0.1)])
def test_out_of_range_parameters_are_rejected(bad):
    with pytest.raises(ValueError):
        Augmenter(np.random.default_rng(0), **bad)


def test_a_batch_without_the_channel_axis_is_rejected(batch):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        Augmenter(np.random.default_rng(0))(batch[:, 0])

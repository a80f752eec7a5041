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


@pytest.mark.parametrize("bad", [dict(max_shift=-0.1), dict(max_rotation_deg=-1), dict(max_zoom=1.0)])
def test_out_of_range_parameters_are_rejected(bad):
    with pytest.raises(ValueError):
        Augmenter(np.random.default_rng(0), **bad)


def test_a_batch_without_the_channel_axis_is_rejected(batch):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        Augmenter(np.random.default_rng(0))(batch[:, 0])

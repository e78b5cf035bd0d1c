import numpy as np
import pytest

from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.points import Points
from pointseg.imaging.preprocess import (AXES, PreprocessConfig, enhance, normalize_axis, plan_geometry,
                                         preprocess_case)
from pointseg.imaging.stacks import cached_stack, load_stack
from pointseg.io.dataset import discover_cases
from pointseg.io.volume import Volume, read_volume
from tests.conftest import REAL_CASE, oblique_affine

LUMBAR = get_label_set()
SMALL = PreprocessConfig(spacing=1.0, size=(48, 40))


def _ct(shape=(14, 30, 28), affine=None):
    rng = np.random.default_rng(0)
    array = rng.integers(-200, 900, size=shape).astype(np.int16)
    return Volume(array, oblique_affine() if affine is None else affine)


@pytest.mark.parametrize("axis", AXES)
def test_volume_to_slices_to_volume_is_identity_on_the_crop(axis):
    ct = _ct()
    geometry, _, resampled = plan_geometry(ct, axis, PreprocessConfig(spacing=1.0, size=(20, 64)))
    stack = geometry.volume_to_stack(resampled.array, fill=-5000)
    assert stack.shape == (geometry.num_slices, 20, 64)
    back = geometry.stack_to_volume(stack, fill=-5000)
    inside = back != -5000
    assert inside.any() and (~inside).any(), "this geometry both crops and pads"
    assert np.array_equal(back[inside], resampled.array[inside])
    # and everything of the crop window came back: the number of kept voxels is the window's size
    rows, cols = (min(e, s) for e, s in zip(geometry.plane_shape, geometry.size))
    assert inside.sum() == geometry.num_slices * rows * cols


@pytest.mark.parametrize("axis", AXES)
def test_channels_follow_the_same_mapping(axis):
    ct = _ct()
    geometry, _, resampled = plan_geometry(ct, axis, SMALL)
    two = np.stack([resampled.array, -resampled.array], axis=-1)
    stack = geometry.volume_to_stack(two)
    assert stack.shape == (geometry.num_slices, 48, 40, 2)
    assert np.array_equal(stack[..., 1], -stack[..., 0])
    assert np.array_equal(geometry.stack_to_volume(stack)[..., 0], geometry.stack_to_volume(stack[..., 0]))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("affine", [np.diag([1.0, 1.0, 1.0, 1.0]), oblique_affine(spacing=(3.0, 1.0, 1.0))],
                         ids=["ras-1mm", "oblique-3x1x1"])
def test_click_lands_on_its_pixel(axis, affine):
    shape = (14, 30, 28)
    rng = np.random.default_rng(1)
    clicks = np.array([[3, 7, 20], [10, 22, 5], [7, 15, 14]])
    labels = np.zeros(shape, np.uint8)
    for n, click in enumerate(clicks, start=1):
        labels[tuple(click)] = n
    ct = Volume(rng.integers(-100, 100, size=shape).astype(np.int16), affine)
    points = Points.from_voxels(["L1", "L2", "L3"], clicks, affine)
    stack = preprocess_case(ct, axis, SMALL, Volume(labels, affine), points, LUMBAR)
    pixels = stack.point_pixels()
    for (s, r, c), label in zip(pixels, stack.point_labels):
        assert stack.labels[s, r, c] == label
    # the click is also where the geometry says a voxel index goes
    assert np.allclose(stack.geometry.voxel_to_slice(clicks), stack.points)


def test_axes_are_upright_and_radiological():
    """A RAS volume with a bright voxel superior-anterior-right shows up top-left in sagittal/coronal/axial."""
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[15, 15, 15] = 1  # right, anterior, superior of the centre
    ct = Volume(labels.astype(np.int16) * 1000, np.eye(4))
    for axis, (row_half, col_half) in {
        "sagittal": ("top", "left"),  # superior at top, anterior on the left
        "coronal": ("top", "left"),  # superior at top, patient's right on the left
        "axial": ("top", "left"),  # anterior at top, patient's right on the left
    }.items():
        stack = preprocess_case(ct, axis, PreprocessConfig(spacing=1.0, size=(20, 20)), labels=Volume(labels, np.eye(4)))
        s, r, c = np.argwhere(stack.labels == 1)[0]
        assert r < 10 and c < 10, axis


def test_crop_is_centred_on_the_clicks():
    shape = (60, 60, 60)
    ct = Volume(np.full(shape, 40, np.int16), np.eye(4))
    points = Points.from_voxels(["L1"], [[50, 50, 50]], np.eye(4))
    stack = preprocess_case(ct, "sagittal", PreprocessConfig(spacing=1.0, size=(20, 20)), points=points, label_set=LUMBAR)
    s, r, c = stack.points[0]
    assert abs(r - 10) <= 1 and abs(c - 10) <= 1
    assert s == pytest.approx(50)


def test_stack_to_original_round_trip_on_the_real_case():
    ct, labels = read_volume(REAL_CASE / "ct.nii.gz"), read_volume(REAL_CASE / "labels.nii.gz")
    for axis in AXES:
        stack = preprocess_case(ct, axis, PreprocessConfig(spacing=1.0, size=(128, 128)), labels=labels)
        assert stack.image.dtype == np.uint8 and stack.image.shape[1:] == (128, 128)
        back = stack.geometry.stack_to_original(stack.labels, "nearest")
        assert back.shape == labels.shape
        assert np.array_equal(back, labels.array)


def test_enhance_windows_and_equalises():
    hu = np.linspace(-1000, 1500, 64 * 64, dtype=np.float32).reshape(1, 64, 64)
    out = enhance(hu, PreprocessConfig())
    assert out.dtype == np.uint8 and out.shape == hu.shape
    assert out[0, 0, 0] < 20 and out[0, -1, -1] > 235
    assert len(np.unique(out)) > 100
    # below the window everything is black before CLAHE, so CLAHE keeps it one dark value per tile
    flat = enhance(np.full((1, 64, 64), -1000, np.float32), PreprocessConfig())
    assert len(np.unique(flat)) == 1 and flat.max() < 20


def test_hdf5_cache_round_trip_and_reuse(box_dataset, tmp_path):
    from pointseg.simulate.clicks import ClickConfig, case_rng, simulate_clicks
    from pointseg.io.points import write_points

    case = [c for c in discover_cases(box_dataset) if c.id == "oblique"][0]
    points = simulate_clicks(case.load_labels(), LUMBAR, ClickConfig(per_class=2, background=2), case_rng(0, case.id))
    write_points(case.points_path, points)
    stack = cached_stack(case, "coronal", SMALL, LUMBAR, tmp_path / "cache")
    files = list((tmp_path / "cache" / "oblique").glob("coronal-labels-*.h5"))
    assert len(files) == 1
    again = load_stack(files[0])
    assert np.array_equal(again.image, stack.image) and np.array_equal(again.labels, stack.labels)
    assert np.allclose(again.points, stack.points)
    assert again.geometry.to_json() == stack.geometry.to_json()
    import h5py
    with h5py.File(files[0]) as f:
        assert f["image"].chunks == (1,) + stack.image.shape[1:], "one slice per chunk"
        assert stack.image.shape[1:] == stack.geometry.size and stack.image.shape[1] >= 48, "whole planes"
        assert f["body_pixels"].shape == (len(stack.image),)
    mtime = files[0].stat().st_mtime_ns
    cached_stack(case, "coronal", SMALL, LUMBAR, tmp_path / "cache")
    assert files[0].stat().st_mtime_ns == mtime, "an unchanged case is read from the cache"


def test_axis_names():
    assert normalize_axis("Transverse") == "axial" and normalize_axis("frontal") == "coronal"
    with pytest.raises(InputError, match="unknown axis"):
        normalize_axis("oblique")


def test_channels_go_back_to_the_original_grid_together():
    ct = _ct()
    geometry, _, resampled = plan_geometry(ct, "axial", SMALL)
    rng = np.random.default_rng(2)
    probs = rng.random(geometry.resampled_shape + (3,)).astype(np.float32)
    together = geometry.to_original(probs, "linear")
    assert together.shape == ct.shape + (3,)
    for c in range(3):
        assert np.allclose(together[..., c], geometry.to_original(probs[..., c], "linear"), atol=1e-6)


def test_full_planes_and_body_pixels_from_hounsfield_units():
    # 30 x 20 x 10 mm of air with a 6 x 6 mm block of tissue on two sagittal slices only.
    hu = np.full((30, 20, 10), -1000.0, dtype=np.float32)
    hu[10:12, 5:11, 2:8] = 40.0
    ct = Volume(hu, np.eye(4))
    stack = preprocess_case(ct, "sagittal", PreprocessConfig(spacing=1.0, size=(8, 8)), full_plane=True)
    assert stack.image.shape == (30, 10, 20), "whole planes (rows = z, columns = y), not the 8 x 8 crop"
    assert stack.body_pixels.tolist() == [0] * 10 + [36, 36] + [0] * 18
    # CLAHE lifts air above 0, which is why the body is counted in HU.
    assert (stack.image[0] > 0).mean() > 0.5
    assert stack.has_body(0.01, 8 * 8).tolist() == [False] * 10 + [True, True] + [False] * 18
    small = preprocess_case(ct, "sagittal", PreprocessConfig(spacing=1.0, size=(32, 32)), full_plane=True)
    assert small.image.shape == (30, 32, 32), "padded up to the window size"


def test_with_context_repeats_the_end_slices():
    from pointseg.imaging.preprocess import with_context

    image = np.arange(4)[:, None, None] * np.ones((1, 2, 3), dtype=np.uint8)
    out = with_context(image, 0, 4, 1)
    assert out.shape == (4, 3, 2, 3)
    assert out[:, :, 0, 0].tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]
    assert with_context(image, 1, 3, 0)[:, :, 0, 0].tolist() == [[1], [2]]


@pytest.mark.parametrize("axis", ["axial", "sagittal"])
def test_probabilities_come_back_the_same_when_only_their_box_is_resampled(axis):
    """A small blob of probability resampled box-only equals the whole-grid resampling (oblique, 3 mm)."""
    ct = Volume(np.zeros((30, 50, 44), np.float32), oblique_affine(spacing=(3.0, 1.0, 1.0)))
    geometry, _, resampled = plan_geometry(ct, axis, PreprocessConfig(spacing=1.5, size=(48, 48)), full_plane=True)
    grid = np.indices(resampled.shape).astype(np.float32)
    centre = np.array(resampled.shape, dtype=np.float32)[:, None, None, None] * np.array([0.3, 0.6, 0.5])[:, None, None, None]
    blob = np.exp(-((grid - centre) ** 2).sum(axis=0) / (2 * 3.0**2)).astype(np.float32)
    full = geometry.to_original(blob, "linear", fill=0.0)
    boxed = geometry.probability_to_original(blob, floor=1e-3)
    assert full.shape == boxed.shape == ct.shape and full.max() > 0.5
    assert np.abs(full - boxed).max() <= 1e-3
    assert np.count_nonzero(boxed) < 0.2 * boxed.size  # only the box was filled in

"""VGG16-FCN8: shapes for any input size, bilinear upsampling at init, ImageNet weights, registry."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from pointseg.errors import InputError
from pointseg.models import MODELS, VGG16FCN8, build_model, load_vgg16_imagenet
from pointseg.models.fcn8 import bilinear_upsampler, get_upsampling_weight

WEIGHTS_FILE = "vgg16-397923af.pth"


def randomise_scores(model: VGG16FCN8, seed: int = 0) -> VGG16FCN8:
    """Score layers start at zero (so the output does too); give them weights to make outputs informative."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in (model.score_fr, model.score_pool4, model.score_pool3):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * 0.1)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator) * 0.1)
    return model


def meta_model(num_classes: int = 3) -> VGG16FCN8:
    """A width-1 model on the meta device: cheap to build, enough to reach the file checks."""
    with torch.device("meta"):
        return VGG16FCN8(num_classes=num_classes, width=1.0)


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (100, 76), (32, 33)])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_has_the_input_size(size, channels):
    model = VGG16FCN8(num_classes=4, width=0.0625).eval()
    with torch.no_grad():
        out = model(torch.rand(2, channels, *size))
    assert out.shape == (2, 4, *size)
    assert out.dtype == torch.float32


def test_training_mode_backward_reaches_the_encoder():
    model = randomise_scores(VGG16FCN8(num_classes=3, width=0.0625)).train()
    model(torch.rand(2, 1, 40, 48)).square().mean().backward()
    assert model.features[0].weight.grad is not None and model.features[0].weight.grad.abs().sum() > 0
    assert model.upscore2.weight.grad is not None, "the 2x upsamplings learn, as in FCN-8s"
    assert model.upscore8.weight.grad is None, "the final 8x upsampling stays fixed bilinear"


def test_channels_last_and_autocast():
    model = randomise_scores(VGG16FCN8(num_classes=3, width=0.0625)).eval()
    x = torch.rand(1, 1, 45, 70)
    with torch.no_grad():
        reference = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out_cl = model_cl(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out_amp = model_cl(x.to(memory_format=torch.channels_last))
    assert out_cl.shape == out_amp.shape == (1, 3, 45, 70)
    torch.testing.assert_close(out_cl, reference, rtol=1e-4, atol=1e-5)
    assert torch.isfinite(out_amp.float()).all()


def test_bilinear_kernel_by_hand():
    # k = 4 (factor 2): centre 1.5, profile 1 - |i - 1.5| / 2 = [1/4, 3/4, 3/4, 1/4]; channel i → i only.
    weight = get_upsampling_weight(2, 2, 4)
    profile = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(weight[0, 0], torch.outer(profile, profile))
    assert weight[0, 1].abs().sum() == 0 and weight[1, 0].abs().sum() == 0


@pytest.mark.parametrize("factor", [2, 8])
def test_upsamplers_are_bilinear_at_init(factor):
    layer = bilinear_upsampler(3, factor)
    # A constant map stays constant away from the border (factor / 2 pixels are cut by the padding).
    with torch.no_grad():
        constant = layer(torch.full((1, 3, 6, 5), 2.5))
    assert constant.shape == (1, 3, 6 * factor, 5 * factor)
    border = factor // 2
    torch.testing.assert_close(constant[..., border:-border, border:-border],
                               torch.full_like(constant[..., border:-border, border:-border], 2.5))
    # A smooth map matches bilinear interpolation (align_corners=False) in the interior.
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 7), torch.linspace(0, 1, 9), indexing="ij")
    smooth = torch.stack([torch.sin(3 * ys + 2 * xs), ys * xs, torch.cos(2 * xs - ys)])[None]
    with torch.no_grad():
        up = layer(smooth)
    expected = F.interpolate(smooth, scale_factor=factor, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., border:-border, border:-border],
                               expected[..., border:-border, border:-border], rtol=1e-5, atol=1e-6)


def test_model_upsamplers_start_bilinear():
    model = VGG16FCN8(num_classes=3, width=0.0625)
    for layer, factor in ((model.upscore2, 2), (model.upscore_pool4, 2), (model.upscore8, 8)):
        assert (layer.kernel_size, layer.stride, layer.padding) == ((2 * factor,) * 2, (factor,) * 2, (factor // 2,) * 2)
        torch.testing.assert_close(layer.weight, get_upsampling_weight(3, 3, 2 * factor))


def test_one_channel_equals_three_identical_channels():
    model = randomise_scores(VGG16FCN8(num_classes=3, width=0.0625)).eval()
    gray = torch.rand(2, 1, 48, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(gray), model(gray.repeat(1, 3, 1, 1)))
    prepared = model.prepare_input(torch.full((1, 1, 2, 2), 0.5))
    expected = (0.5 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(prepared[0, :, 0, 0], expected)
    assert "mean" in dict(model.named_buffers()) and "std" in dict(model.named_buffers())


def test_bad_input_shape_is_refused():
    model = VGG16FCN8(num_classes=3, width=0.0625)
    with pytest.raises(InputError, match="got shape"):
        model(torch.rand(1, 2, 32, 32))


def test_encoder_layout_matches_torchvision():
    import torchvision

    # Layout only (no weights): same indices and module types as torchvision's vgg16().features.
    with torch.device("meta"):
        reference = torchvision.models.vgg16(weights=None).features
        ours = VGG16FCN8(width=1.0).features
    assert [type(m) for m in ours] == [type(m) for m in reference]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}


def test_width_scales_channels():
    model = VGG16FCN8(num_classes=6, width=0.25)
    convs = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 16, 32, 32, 64, 64, 64, 128, 128, 128, 128, 128, 128]
    assert model.fc6.weight.shape == (1024, 128, 7, 7) and model.fc7.weight.shape == (1024, 1024, 1, 1)
    assert model.score_pool3.in_channels == 64 and model.score_pool4.in_channels == 128


def test_parameter_count_at_width_one():
    # By hand, 6 classes:
    #   VGG16 conv layers (torchvision features)            14,714,688
    #   fc6  4096 * 512 * 7 * 7 + 4096                      102,764,544
    #   fc7  4096 * 4096 + 4096                              16,781,312
    #   score_fr 4096 * 6 + 6 = 24,582; score_pool4 512 * 6 + 6 = 3,078; score_pool3 256 * 6 + 6 = 1,542
    #   upscore2, upscore_pool4 6 * 6 * 4 * 4 = 576 each; upscore8 6 * 6 * 16 * 16 = 9,216
    #   total                                               134,300,114
    with torch.device("meta"):  # count only: nothing allocated
        model = VGG16FCN8(num_classes=6, width=1.0)
    assert sum(p.numel() for p in model.features.parameters()) == 14_714_688
    assert sum(p.numel() for p in model.parameters()) == 134_300_114


def test_registry():
    model = build_model("vgg16_fcn8", num_classes=3, width=0.125)
    assert isinstance(model, VGG16FCN8) and MODELS["vgg16_fcn8"] is VGG16FCN8
    assert model.num_classes == 3 and model.width == 0.125
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 1, 33, 35)).shape == (1, 3, 33, 35)
    with pytest.raises(InputError, match="unknown model 'unet'"):
        build_model("unet")


def test_missing_weights_file_names_the_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / WEIGHTS_FILE
    with pytest.raises(InputError, match="not found; place torchvision's VGG16 ImageNet weights") as caught:
        load_vgg16_imagenet(meta_model(), missing)
    assert str(missing) in str(caught.value) and caught.value.path == os.fspath(missing)
    with pytest.raises(InputError, match="pretrained=False") as caught:
        with torch.device("meta"):
            VGG16FCN8(num_classes=3, width=1.0, pretrained=str(missing))
    assert str(missing) in str(caught.value)
    # pretrained=True with an empty hub cache names the cache path.
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(InputError) as caught:
        with torch.device("meta"):
            VGG16FCN8(num_classes=3, width=1.0, pretrained=True)
    assert str(tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE) in str(caught.value)


def test_pretrained_needs_width_one(tmp_path):
    path = tmp_path / WEIGHTS_FILE
    path.write_bytes(b"")
    with pytest.raises(InputError, match="ImageNet weights need width 1.0") as caught:
        VGG16FCN8(num_classes=3, width=0.5, pretrained=path)
    assert str(path) in str(caught.value)
    with pytest.raises(InputError, match="ImageNet weights need width 1.0"):
        load_vgg16_imagenet(VGG16FCN8(num_classes=3, width=0.0625), path)


def test_pretrained_must_be_a_flag_or_path():
    with pytest.raises(InputError, match="pretrained must be"):
        VGG16FCN8(num_classes=3, width=0.0625, pretrained=3.5)


def test_unreadable_weights_file(tmp_path):
    path = tmp_path / WEIGHTS_FILE
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot read") as caught:
        load_vgg16_imagenet(meta_model(), path)
    assert str(path) in str(caught.value)


def assert_loaded(model: VGG16FCN8, reference: dict) -> None:
    """The encoder holds ``reference`` (torchvision VGG16 keys), the head its FCN initialisation."""
    for key, value in model.features.state_dict().items():
        assert torch.equal(value, reference[f"features.{key}"]), key
    assert torch.equal(model.fc6.weight, reference["classifier.0.weight"].view(4096, 512, 7, 7))
    assert torch.equal(model.fc6.bias, reference["classifier.0.bias"])
    assert torch.equal(model.fc7.weight, reference["classifier.3.weight"].view(4096, 4096, 1, 1))
    assert torch.equal(model.fc7.bias, reference["classifier.3.bias"])
    assert model.score_fr.weight.abs().sum() == 0
    torch.testing.assert_close(model.upscore8.weight, get_upsampling_weight(2, 2, 16))


def test_loads_torchvision_vgg16_state_dict(tmp_path, monkeypatch):
    import torchvision

    # torchvision's VGG16 with random weights (width 1.0, ~0.5 GB), drawn with normal_ because
    # torchvision's own init (uniform) takes seconds on a CPU.
    with torch.device("meta"):
        vgg = torchvision.models.vgg16(weights=None)
    vgg.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in vgg.parameters():
            parameter.normal_(0.0, 0.01, generator=generator)
    reference = vgg.state_dict()
    path = tmp_path / WEIGHTS_FILE
    torch.save(reference, path)
    try:
        model = meta_model(num_classes=2).to_empty(device="cpu")  # encoder uninitialised: the load fills it
        model.reset_head()
        assert load_vgg16_imagenet(model, path) is model
        assert_loaded(model, reference)
        # classifier.0 flattens (512, 7, 7) in C, H, W order: fc6 on a 7 x 7 map (no padding) equals it.
        features = torch.rand(1, 512, 7, 7)
        with torch.no_grad():
            linear = F.linear(features.flatten(1), reference["classifier.0.weight"], reference["classifier.0.bias"])
            conv = F.conv2d(features, model.fc6.weight, model.fc6.bias)
        torch.testing.assert_close(conv.flatten(1), linear, rtol=1e-4, atol=1e-4)
        del model

        assert_loaded(VGG16FCN8(num_classes=2, width=1.0, pretrained=path), reference)

        # pretrained=True: the torch hub cache, <hub dir>/checkpoints/vgg16-397923af.pth.
        hub = tmp_path / "hub"
        (hub / "checkpoints").mkdir(parents=True)
        os.link(path, hub / "checkpoints" / WEIGHTS_FILE)
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
        assert_loaded(VGG16FCN8(num_classes=2, width=1.0, pretrained=True), reference)
    finally:  # leave no half gigabyte in the temporary folders pytest keeps
        for file in tmp_path.rglob(WEIGHTS_FILE):
            file.unlink()


def test_batch_norm_layout_matches_torchvision_vgg16_bn():
    import torchvision

    with torch.device("meta"):
        reference = torchvision.models.vgg16_bn(weights=None).features
        ours = VGG16FCN8(width=1.0, batch_norm=True).features
    assert [type(m) for m in ours] == [type(m) for m in reference]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}


def test_missing_bn_weights_name_the_vgg16_bn_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(InputError) as caught:
        with torch.device("meta"):
            VGG16FCN8(num_classes=3, width=1.0, batch_norm=True, pretrained=True)
    assert "vgg16_bn-6c64b313.pth" in str(caught.value)


@pytest.mark.parametrize("stride", [8, 4, 2])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_output_stride_options_keep_the_input_size(stride, batch_norm):
    model = randomise_scores(VGG16FCN8(num_classes=4, width=0.0625, batch_norm=batch_norm, output_stride=stride)).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 45, 70))
    assert out.shape == (2, 4, 45, 70)
    assert model.upscore_final is getattr(model, {8: "upscore8", 4: "upscore4", 2: "upscore_out2"}[stride])
    assert model.upscore_final is not model.upscore2
    assert model.upscore_final.stride == (stride, stride)


def test_finer_strides_learn_their_skips_but_not_the_final_upsampling():
    model = VGG16FCN8(num_classes=3, width=0.0625, batch_norm=True, output_stride=2).train()
    for layer in model.score_layers():  # non-zero scores, so gradients reach every skip
        torch.nn.init.normal_(layer.weight, std=0.1)
    model(torch.rand(2, 1, 64, 64)).square().mean().backward()
    for name in ("score_pool2", "score_pool1", "upscore_pool3", "upscore_pool2"):
        assert getattr(model, name).weight.grad is not None and getattr(model, name).weight.grad.abs().sum() > 0, name
    assert model.upscore2.weight.grad is not None
    assert model.upscore_final.weight.grad is None, "the final x2 upsampling stays fixed bilinear"


def test_finer_stride_adds_a_skip_and_bad_options_are_refused():
    model = VGG16FCN8(num_classes=2, width=0.0625, output_stride=4)
    assert hasattr(model, "score_pool2") and not hasattr(VGG16FCN8(num_classes=2, width=0.0625), "score_pool2")
    with pytest.raises(InputError, match="output_stride must be one of"):
        VGG16FCN8(num_classes=2, width=0.0625, output_stride=16)
    with pytest.raises(InputError, match="dropout"):
        VGG16FCN8(num_classes=2, width=0.0625, dropout=1.0)


def test_the_2d_models_do_not_import_monai():
    # MONAI's networks take seconds to import; only building a 3D network may pay for them.
    import subprocess
    import sys

    code = ("import sys, pointseg.models, pointseg.predict.planar; "
            "assert 'monai' not in sys.modules, sorted(m for m in sys.modules if m.startswith('monai'))[:3]")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

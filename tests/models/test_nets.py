import warnings

import pytest
import torch

from forecast.errors import ConfigError
from forecast.models import (
    ForecastModule,
    ManyToMany,
    ManyToOne,
    RevIN,
    SegmentRNN,
    Seq2Seq,
    encoders,
)
from forecast.models.encoders import CELLS

B, L, H, C, F = 4, 24, 6, 3, 2
MODES = [ManyToOne, ManyToMany, Seq2Seq]


def make(cls, **kw):
    base = dict(n_inputs=C, n_targets=C, lookback=L, horizon=H, n_time_features=F, hidden_size=8)
    if cls is SegmentRNN:
        base.update(segment_length=6, n_time_features=0)  # it takes no known inputs
    return cls(**{**base, **kw})


def inputs():
    torch.manual_seed(0)
    return torch.randn(B, L, C), torch.randn(B, L, F), torch.randn(B, H, F), torch.randn(B, H, C)


@pytest.mark.parametrize("cls", MODES)
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes(cls, cell, bidirectional):
    if cls is ManyToMany and bidirectional:
        with pytest.raises(ConfigError, match="bidirectional"):
            make(cls, cell=cell, bidirectional=True)
        return
    net = make(cls, cell=cell, bidirectional=bidirectional, num_layers=2, dropout=0.1)
    x, x_time, y_time, y = inputs()
    out = net(x, x_time, y_time, y)
    assert out.shape == net.target(x, y).shape
    assert net.predict(x, x_time, y_time).shape == (B, H, C)


@pytest.mark.parametrize("cls", MODES + [SegmentRNN])
@pytest.mark.parametrize("revin, last, independent", [(True, False, False), (False, False, True),
                                                      (True, True, True), (False, True, False)])
def test_normalisation_and_channel_independence_keep_shapes(cls, revin, last, independent):
    # the segment model is channel independent by construction (and refuses the flag)
    independent = independent and cls is not SegmentRNN
    net = make(cls, revin=revin, subtract_last=last, channel_independent=independent)
    if cls is ManyToMany and (revin or last):  # its targets are inside the window: it loads
        on = "revin" if revin else "subtract_last"  # (saved before), but does not train
        with pytest.raises(ConfigError, match=rf"^model.{on}: .*learn from what it must predict"):
            ForecastModule(net)
        return
    x, x_time, y_time, y = inputs()
    assert net(x, x_time, y_time, y).shape == net.target(x, y).shape
    assert net.predict(x, x_time, y_time).shape == (B, H, C)


@pytest.mark.parametrize("cls", [ManyToOne, Seq2Seq, SegmentRNN])
@pytest.mark.parametrize("revin, last", [(True, False), (False, True), (True, True)])
def test_window_normalisation_makes_forecasts_follow_the_level(cls, revin, last):
    """Shifting a window by c shifts its forecast by c: the model sees no absolute level."""
    net = make(cls, revin=revin, subtract_last=last, n_time_features=0).eval()
    x = inputs()[0]
    torch.testing.assert_close(net.predict(x + 5.0), net.predict(x) + 5.0, atol=1e-4, rtol=1e-4)


def test_teacher_forcing_feeds_the_truth_of_the_steps_before_only():
    """With teacher_forcing=1 step h reads the true target of step h-1: changing the truth
    from step 1 on changes steps 2.. and leaves steps 0 and 1 (no target leaks into its own
    step, and the truth is used at all)."""
    net = make(Seq2Seq, teacher_forcing=1.0, n_time_features=0).train()
    x, y = inputs()[0], inputs()[3]
    changed = y.clone()
    changed[:, 1:] += 10
    forced, forced_changed = net(x, y=y), net(x, y=changed)
    torch.testing.assert_close(forced[:, :2], forced_changed[:, :2])
    assert not torch.allclose(forced[:, 2:], forced_changed[:, 2:])


@pytest.mark.parametrize("revin, last", [(True, False), (False, True)])
def test_window_normalisation_also_normalises_the_teacher_forced_truth(revin, last):
    """In training, the fed-back truth is on the normalised axis of its window, as forecasts
    are: shifting the window and its targets by c shifts the training output by c."""
    net = make(Seq2Seq, teacher_forcing=1.0, revin=revin, subtract_last=last,
               n_time_features=0).train()
    x, y = inputs()[0], inputs()[3]
    torch.testing.assert_close(net(x + 5, y=y + 5), net(x, y=y) + 5, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cls", MODES + [SegmentRNN])
def test_each_windows_forecast_depends_on_that_window_only(cls):
    net = make(cls, n_time_features=0, horizon=2 * H).eval()  # SegRNN: 2 output segments
    x = inputs()[0]
    others = x.clone()
    others[1:] += torch.randn(B - 1, L, C)
    torch.testing.assert_close(net.predict(x)[0], net.predict(others)[0])


def test_many_to_many_feeds_each_forecast_back_with_its_own_calendar_step():
    """predict's step 1 is the forward pass over the window extended by step 0's forecast and
    step 0's known inputs."""
    net = make(ManyToMany, n_targets=1, n_inputs=1).eval()
    x, x_time, y_time, _ = inputs()
    x = x[..., :1]
    forecast_ = net.predict(x, x_time, y_time)
    extended = net(torch.cat([x, forecast_[:, :1]], 1), torch.cat([x_time, y_time[:, :1]], 1))
    torch.testing.assert_close(extended[:, -1], forecast_[:, 1])


@pytest.mark.parametrize("affine, last, scale", [(True, False, True), (False, True, False),
                                                 (True, True, True)])
def test_revin_round_trip(affine, last, scale):
    norm = RevIN(C, affine=affine, subtract_last=last, scale=scale)
    if affine:
        torch.nn.init.uniform_(norm.weight, 0.5, 2.0)
        torch.nn.init.uniform_(norm.bias, -1.0, 1.0)
    x = inputs()[0] * 3 + 2
    z, stats = norm.normalize(x)
    torch.testing.assert_close(norm.denormalize(z, stats), x, atol=1e-4, rtol=1e-4)
    if last and not affine:
        assert torch.all(z[:, -1] == 0)


def test_segment_model_without_channel_embedding():
    net = make(SegmentRNN, channel_embedding=False, hidden_size=7)
    assert net.channel is None and net.position.shape == (H // 6, 7)
    assert net.predict(inputs()[0]).shape == (B, H, C)


def test_relu_rnn_and_many_to_one_with_fewer_targets():
    net = make(ManyToOne, cell="rnn", nonlinearity="relu", n_targets=1, n_time_features=0)
    assert net.encoder.rnn.nonlinearity == "relu"
    assert net.predict(inputs()[0]).shape == (B, H, 1)


@pytest.mark.parametrize("cls", MODES + [SegmentRNN])
def test_every_model_overfits_one_batch(cls):
    torch.manual_seed(0)
    net = make(cls, hidden_size=32, n_time_features=0)
    x = torch.sin(torch.linspace(0, 12, L + H))[None, :, None].repeat(B, 1, C)
    x = x + 0.3 * torch.randn(B, 1, C)
    past, future = x[:, :L], x[:, L:]
    module = ForecastModule(net, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    optimizer = module.configure_optimizers()
    losses = []
    for _ in range(300):
        optimizer.zero_grad()
        loss = module.loss_fn(net(past, y=future), net.target(past, future))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10


@pytest.mark.parametrize("cls", MODES + [SegmentRNN])
def test_gradients_reach_the_first_step(cls):
    net = make(cls, n_time_features=0)
    x = torch.randn(B, L, C, requires_grad=True)
    net.predict(x).sum().backward()
    assert x.grad[:, 0].abs().sum() > 0


@pytest.mark.filterwarnings("ignore:LSTM layers run in float32")
@pytest.mark.parametrize("cls", MODES + [SegmentRNN])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_every_model_and_cell_runs_under_cpu_autocast(cls, cell, dtype):
    """Mixed precision on a CPU (`precision=bf16-mixed`): oneDNN's LSTM fails under autocast on
    CPUs without AVX-512, where the layer runs in float32 instead. Forecasts and gradients come
    out finite and near float32's, on any CPU."""
    net = make(cls, cell=cell, num_layers=2)
    x, x_time, y_time, y = inputs()
    expected = net.predict(x, x_time, y_time)
    with torch.autocast("cpu", dtype=dtype):
        forecast = net.predict(x, x_time, y_time)
        loss = net(x, x_time, y_time, y).float().square().mean()
    loss.backward()
    assert torch.allclose(forecast.float(), expected, atol=0.05)
    assert all(p.grad is not None and p.grad.isfinite().all() for p in net.parameters()
               if p.requires_grad)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_cpu_autocast_fallback_runs_a_layer_in_its_weights_precision(monkeypatch, cell):
    """What an AVX2-only CPU does for an LSTM, forced here on any CPU and for every cell: the
    layer gives the same outputs as outside autocast, float64 weights included."""
    monkeypatch.setattr(encoders, "autocast_runs", lambda cell, dtype: False)
    for dtype in (torch.float32, torch.float64):
        encoder = encoders.RecurrentEncoder(C, 8, 2, cell=cell).to(dtype)
        x = torch.randn(B, L, C, dtype=dtype)
        expected, _ = encoder(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, state = encoder(x.bfloat16(), None)
            output_from_state, _ = encoder(x, state)
        assert output.dtype == dtype and torch.allclose(output, expected, atol=0.02)
        assert output_from_state.dtype == dtype


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_the_cpu_autocast_probe_warns_once_when_it_fails_and_keeps_the_random_stream(cell):
    encoders.autocast_runs.cache_clear()
    rng = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [encoders.autocast_runs(cell, torch.bfloat16) for _ in range(2)]
    assert runs[0] == runs[1]
    assert len(caught) == (0 if runs[0] else 1)  # on an AVX2-only CPU an LSTM fails
    assert torch.equal(torch.get_rng_state(), rng)


def test_segment_length_must_divide_lookback():
    with pytest.raises(ConfigError, match="segment_length"):
        make(SegmentRNN, segment_length=5)


@pytest.mark.parametrize("option, key", [({"n_time_features": 3}, "model: the segment model"),
                                         ({"channel_independent": True},
                                          "model.channel_independent")])
def test_segment_model_refuses_inputs_it_would_drop(option, key):
    # Lightning users build the network without the CLI's and the Forecaster's checks
    with pytest.raises(ConfigError, match=f"^{key}"):
        make(SegmentRNN, **option)


def test_unknown_cell_is_a_config_error():
    with pytest.raises(ConfigError, match="model.cell"):
        make(ManyToOne, cell="transformer")

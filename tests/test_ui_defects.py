"""UI defects of issue 8 that can be checked without a browser."""
from __future__ import annotations

from apps import charts
from apps.streamlit import common


def test_one_point_curves_are_drawn_with_markers():
    one = [{"step": 1, "d_loss": 1.2, "g_loss": 0.7}]
    fig = charts.curves_figure(one, ["d_loss", "g_loss"], "Losses")
    assert [t.mode for t in fig.data] == ["lines+markers"] * 2 and list(fig.data[0].x) == [1]
    cmp = charts.compare_figure({"a": one, "b": [{"step": s, "d_loss": 1.0} for s in range(1, 200)]}, "d_loss")
    assert cmp.data[0].mode == "lines+markers" and cmp.data[1].mode == "lines"


def test_owner_cookie_script_and_token_shape():
    js = common._set_cookie_js("A" * 32)
    assert "gan_studio_owner=" + "A" * 32 in js and "SameSite=Strict" in js and "max-age=" in js
    assert common._TOKEN_RE.match("x" * 32) and not common._TOKEN_RE.match("short")
    assert not common._TOKEN_RE.match("a" * 20 + "; path=/")  # nothing but the token itself


def test_compare_lists_mid_run_lr_and_n_critic_changes():
    from gan_core.studio import mid_run_changes

    hist = [{"step": 10, "lr_g": 2e-4, "lr_d": 2e-4, "n_critic": 1},
            {"step": 20, "lr_g": 2e-4, "lr_d": 2e-4, "n_critic": 1},
            {"step": 30, "lr_g": 1e-4, "lr_d": 2e-4, "n_critic": 3},
            {"step": 40, "lr_g": 1e-4, "lr_d": 2e-4, "n_critic": 3}]
    assert mid_run_changes(hist) == [{"step": 30, "lr_g": "2.0e-04 -> 1.0e-04", "n_critic": "1 -> 3"}]
    assert mid_run_changes(hist[:2]) == []


def test_run_labels_name_the_same_step_as_the_sample_grid(tmp_path):
    import json

    from gan_core.studio import list_runs

    run = tmp_path / "r1"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": {"dataset": "faces"}, "model": {"arch": "dcgan"},
                                                 "loss": {"name": "ns"}}))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "d_loss": 1.0}) + "\n" for s in (15, 30, 45)))
    (run / "samples" / "step_0000049.png").write_bytes(b"")
    (info,) = list_runs(tmp_path)
    assert info.step == 49 and info.sample_step == 49 and "step 49" in info.label


def test_students_get_the_viewer_toolbar_and_home_has_a_card_per_page():
    """#23 item 19: no "Deploy" (developer options) for students: client.toolbarMode = "viewer" keeps the
    viewer's menu (theme, print); Home shows a card for every page, Style and Sketch included."""
    import tomllib
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["toolbarMode"] == "viewer"
    at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    cards = [s.value for s in at.subheader]
    assert "Style" in cards and "Sketch" in cards and "2D lab" in cards


def test_checkbox_labels_of_the_form_fit_a_column_at_1280_px():
    """#23 item 18: a checkbox's label is one line that both fronts cut at the column's width ("Train D's tag
    heads on fa...", "Keep G dropout when samp..." at 1280 px): the form's checkboxes have short labels
    (declared once in config's setting(...)), the detail goes to the help text."""
    from gan_core import studio
    from gan_core.config import all_fields

    specs = [studio.field_spec(k) for k, _ in all_fields()]
    long = [(s.key, s.label) for s in specs if s.kind == "bool" and not s.advanced and len(s.label) > 23]
    assert long == []
    for key in ("model.dropout_at_test", "loss.aux_on_fake"):
        assert studio.field_spec(key).help, key   # what the short label leaves out


def test_a_constant_learning_rate_is_drawn_on_a_log_axis_at_its_value():
    # issue 23 item 3: lr 2e-4 was a flat line at "0" on a -1..1 linear axis
    hist = [{"step": s, "lr_g": 2e-4, "lr_d": 2e-4, "d_loss": 1.0} for s in range(1, 50)]
    fig = charts.curves_figure(hist, ["lr_d", "lr_g"], "Learning rates")
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.tickformat == ".1e"
    assert list(fig.data[0].y)[0] == 2e-4
    cmp = charts.compare_figure({"a": hist}, "lr_g")
    assert cmp.layout.yaxis.type == "log"
    assert charts.curves_figure(hist, ["d_loss"], "Losses").layout.yaxis.type is None   # losses stay linear

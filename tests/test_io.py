"""bayes_scaling.io (issue 7): the saved-fit format. Damaged saved fits give a FitFileError (never a prediction);
saving is atomic and never overwrites; fits written by earlier versions of the package (format 2) still load.

The fits here are fake (synthetic draws, no sampler); ``ScalingFit.save``/``load`` go through
:func:`write_fit`/:func:`read_fit`."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayes_scaling.cli import main
from bayes_scaling.io import FIT_FILES, FORMAT_VERSION, FitFileError, read_fit, write_fit
from bayes_scaling.posterior import ScalingFit

MAIN_FIT = Path(__file__).parent / "data" / "main-format-2"

TARGETS = pd.DataFrame({"params": [3e9, 7e10], "tokens": [6e10, 1.4e12]})


def save_fit(fit, path, force=False):
    return fit.save(path, force=force)


def load_fit(path):
    return ScalingFit.load(path)


@pytest.fixture(scope="module")
def template(fake_fit, tmp_path_factory):
    """One saved fit; tests damage copies of it."""
    return save_fit(fake_fit, tmp_path_factory.mktemp("saved") / "fit")


@pytest.fixture
def saved(template, tmp_path):
    path = tmp_path / "fit"
    shutil.copytree(template, path)
    return path


def _digest(cfg: dict) -> str:
    """The documented config checksum: SHA-256 of the canonical JSON without 'config_sha256'."""
    body = {k: v for k, v in cfg.items() if k != "config_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _edit_json(path, fn, *, reseal: bool = False):
    cfg_file = path / "fit.json"
    cfg = json.loads(cfg_file.read_text())
    fn(cfg)
    if reseal:  # what someone who knows the format could do: edit and recompute the checksum
        cfg["config_sha256"] = _digest(cfg)
    cfg_file.write_text(json.dumps(cfg))


def _flip_byte(file, offset_frac=0.5):
    data = bytearray(file.read_bytes())
    i = int(len(data) * offset_frac)
    data[i] ^= 0x01
    file.write_bytes(bytes(data))


def _files(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


# ----------------------------------------------------------------------------- round trip baseline


def test_saved_fit_loads_and_predicts_identically(fake_fit, saved):
    fit = fake_fit
    loaded = load_fit(saved)
    pd.testing.assert_frame_equal(fit.predict(TARGETS), loaded.predict(TARGETS))
    cfg = json.loads((saved / "fit.json").read_text())
    assert cfg["format_version"] == FORMAT_VERSION == 3
    assert cfg["config_sha256"] == _digest(cfg)
    assert sorted(p.name for p in saved.iterdir()) == ["fit.json", "posterior.nc", "runs.csv"]


def test_the_domain_column_of_the_runs_is_saved_and_an_older_fit_reads_domain(fake_hier_fit, tmp_path):
    import dataclasses

    path = dataclasses.replace(fake_hier_fit, domain_col="mix").save(tmp_path / "f")
    assert load_fit(path).domain_col == "mix"
    _edit_json(path, lambda cfg: cfg.pop("domain_col"), reseal=True)  # as written before the field existed
    assert load_fit(path).domain_col == "domain"


# ----------------------------------------------------------------------------- damage


def _expect(path, match):
    with pytest.raises(FitFileError, match=match) as e:
        load_fit(path)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_truncated_posterior(saved):
    post = saved / "posterior.nc"
    post.write_bytes(post.read_bytes()[: post.stat().st_size // 2])
    msg = _expect(saved, r"posterior.nc' does not match the checksum recorded in fit.json: the file was truncated, "
                         r"damaged or edited")
    assert msg.endswith("Restore it from a backup or refit; it was not loaded.")


def test_one_byte_flipped_in_posterior(saved):
    _flip_byte(saved / "posterior.nc", 0.7)
    _expect(saved, r"posterior.nc' does not match the checksum recorded in fit.json")


def test_one_byte_flipped_in_runs(saved):
    _flip_byte(saved / "runs.csv", 0.3)
    _expect(saved, r"runs.csv' does not match the checksum recorded in fit.json")


def test_posterior_missing(saved):
    (saved / "posterior.nc").unlink()
    _expect(saved, r"posterior.nc' is missing; the saved fit is incomplete. Refit or restore the file")


def test_unreadable_posterior_with_matching_checksum(saved):
    """A file that passes the checksum but is not NetCDF (e.g. checksum recomputed after damage)."""
    post = saved / "posterior.nc"
    post.write_bytes(b"not a netcdf file")
    _edit_json(saved, lambda c: c["checksums"].update({"posterior.nc": hashlib.sha256(post.read_bytes()).hexdigest()}),
               reseal=True)
    _expect(saved, r"posterior.nc' cannot be read \(\w+\); refit")


@pytest.mark.parametrize("field", ["law", "refs", "checksums", "prior", "domains", "config_sha256"])
def test_json_field_removed(saved, field):
    _edit_json(saved, lambda c: c.pop(field))
    msg = _expect(saved, rf"fit.json' lacks the field\(s\) '{field}': it is damaged or was edited")
    assert msg.endswith("Restore it from a backup or refit; it was not loaded.")


def test_nested_json_field_removed_with_checksum_recomputed(saved):
    _edit_json(saved, lambda c: c["structure"].pop("n_domains"), reseal=True)
    _expect(saved, r"fit.json' is damaged or was edited: the field 'n_domains' is missing")


def test_json_field_of_wrong_type_with_checksum_recomputed(saved):
    _edit_json(saved, lambda c: c.update(refs=[1, 2]), reseal=True)
    _expect(saved, r"fit.json' is damaged or was edited: a field is malformed \(AttributeError")


def test_format_version_removed(saved):
    _edit_json(saved, lambda c: c.pop("format_version"))
    _expect(saved, r"fit.json' has no 'format_version' field: it is damaged or was not written by bayes_scaling")


def test_edited_number_in_json_is_detected(saved):
    """A changed reference scale would shift every forecast silently; the config checksum catches it."""
    _edit_json(saved, lambda c: c["refs"].update(params=c["refs"]["params"] + 0.1))
    _expect(saved, r"fit.json' does not match the checksum it records \('config_sha256'\): it was damaged or edited")


def test_one_byte_flipped_in_json(saved):
    text = (saved / "fit.json").read_text()
    i = text.index('"gp_lengthscale": ') + len('"gp_lengthscale": ')
    assert text[i] == "1"
    (saved / "fit.json").write_text(text[:i] + "2" + text[i + 1:])  # still valid JSON, different number
    _expect(saved, r"does not match the checksum it records")


def test_fit_json_not_json(saved):
    (saved / "fit.json").write_text("{this is not json")
    _expect(saved, r"fit.json' is damaged \(not valid JSON: Expecting property name enclosed in double quotes: "
                   r"line 1 column 2 \(char 1\)\); restore it from a backup or refit")


def test_fit_json_binary_garbage(saved):
    (saved / "fit.json").write_bytes(b"\xff\xfe\x00garbage")
    _expect(saved, r"fit.json' is damaged \(not UTF-8 text\)")


def test_fit_json_not_an_object(saved):
    (saved / "fit.json").write_text("[1, 2, 3]")
    _expect(saved, r"fit.json' is damaged \(expected a JSON object\)")


def test_fit_json_deeply_nested(saved):
    (saved / "fit.json").write_text("[" * 100_000 + "]" * 100_000)
    _expect(saved, r"fit.json' is damaged \(nested too deeply\)")


def test_format_version_changed(saved):
    _edit_json(saved, lambda c: c.update(format_version=99))
    msg = _expect(saved, r"uses saved-fit format 99 but this bayes_scaling reads format 3; it was written by "
                         r"bayes_scaling 0.2.0")
    assert msg.endswith("Refit with this version or install the version that wrote it.")


def test_old_format_without_config_checksum_is_refused(saved):
    _edit_json(saved, lambda c: (c.update(format_version=1), c.pop("config_sha256")))
    _expect(saved, r"uses saved-fit format 1 but this bayes_scaling reads format 3")


def test_fit_json_missing(saved):
    (saved / "fit.json").unlink()
    _expect(saved, r"has no fit.json; it is not a saved fit or it is incomplete")


def test_not_a_directory(tmp_path):
    # ScalingFit.load of a missing path said "is not a saved fit directory" where the CLI said "does not exist"
    with pytest.raises(FitFileError) as err:
        load_fit(tmp_path / "nothing")
    assert str(err.value) == (f"'{tmp_path / 'nothing'}' does not exist; give the directory of a saved fit "
                              "(fit.save(DIR), or the --out directory of bayes-scaling fit or demo).")
    (tmp_path / "notes.md").write_text("# notes\n")
    with pytest.raises(FitFileError, match=r"is not a saved fit directory \(it should hold fit.json and posterior.nc\)\.$"):
        load_fit(tmp_path / "notes.md")


def test_a_file_of_a_saved_fit_points_to_its_directory(saved):
    # `predict DIR/fit/fit.json` was told to fit it as a runs table (a fresh user)
    with pytest.raises(FitFileError) as err:
        load_fit(saved / "fit.json")
    assert str(err.value).endswith(f" It is a file of the saved fit in '{saved}': give that directory.")


def test_a_targets_table_given_as_a_fit_says_the_fit_comes_first(tmp_path):
    # `predict targets.csv --at DIR` (arguments swapped) was told to fit the targets (a fresh user)
    targets = tmp_path / "targets.csv"
    targets.write_text("params,tokens\n1e9,2e10\n")
    with pytest.raises(FitFileError) as err:
        load_fit(targets)
    assert str(err.value).endswith(" It looks like a targets table (it has no 'loss' column): the fit's directory comes "
                                   f"first, e.g. bayes-scaling predict DIR --at {targets}.")


DAMAGES = {
    "truncated posterior": lambda p: (p / "posterior.nc").write_bytes((p / "posterior.nc").read_bytes()[:1000]),
    "flipped posterior byte": lambda p: _flip_byte(p / "posterior.nc", 0.9),
    "flipped runs byte": lambda p: _flip_byte(p / "runs.csv", 0.5),
    "field removed": lambda p: _edit_json(p, lambda c: c.pop("bases")),
    "not json": lambda p: (p / "fit.json").write_text("nope"),
    "format changed": lambda p: _edit_json(p, lambda c: c.update(format_version=4)),
    "json missing": lambda p: (p / "fit.json").unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_cli_predict_on_damaged_fit_gives_no_number(saved, tmp_path, capsys, damage):
    targets = tmp_path / "t.csv"
    TARGETS.to_csv(targets, index=False)
    assert main(["predict", str(saved), "--at", str(targets), "--quiet"]) == 0  # sanity: works before damage
    capsys.readouterr()
    DAMAGES[damage](saved)
    code = main(["predict", str(saved), "--at", str(targets), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 4
    assert out == ""  # no forecast table at all
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert f"'{saved}" in errors[0]  # names the damaged fit (or the file in it)


# ----------------------------------------------------------------------------- saving


def test_save_never_overwrites_without_force(fake_fit, saved):
    fit = fake_fit
    before = _files(saved)
    with pytest.raises(FileExistsError, match=r"already exists; choose another path or pass force=True \(--force\)"):
        save_fit(fit, saved)
    assert _files(saved) == before
    # a plain file in the way is never replaced, even with force
    f = saved.parent / "afile"
    f.write_text("keep me")
    with pytest.raises(FileExistsError, match=r"is a file, not a fit directory"):
        save_fit(fit, f, force=True)
    assert f.read_text() == "keep me"
    # force replaces, atomically, and leaves no temporary directory
    save_fit(fit, saved, force=True)
    load_fit(saved)
    assert sorted(p.name for p in saved.parent.iterdir()) == ["afile", "fit"]


def test_force_never_deletes_files_that_are_not_part_of_a_saved_fit(fake_fit, tmp_path):
    """A fresh user's ``fit.save('report-dir', force=True)`` deleted the report and their own notes with it."""
    out = tmp_path / "report-dir"
    save_fit(fake_fit, out)
    (out / "notes.txt").write_text("mine")
    (out / "figures").mkdir()
    (out / "figures" / "a.png").write_bytes(b"png")
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(FileExistsError) as e:
        save_fit(fake_fit, out, force=True)
    assert str(e.value) == (f"'{out}' already exists and holds files that are not part of a saved fit (figures, "
                            "notes.txt); a fit is saved into a new directory or over another saved fit only, so "
                            f"nothing else is deleted. Choose another path, e.g. '{out / 'fit'}'.")
    assert sorted(p.name for p in out.rglob("*")) == before and (out / "notes.txt").read_text() == "mine"
    # a report's own 'fit' directory with a stray file: the suggestion is a sibling, not 'fit/fit'
    (tmp_path / "rep" / "fit").mkdir(parents=True)
    (tmp_path / "rep" / "fit" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"Choose another path, e.g. '.*rep/fit-2'\.$"):
        save_fit(fake_fit, tmp_path / "rep" / "fit", force=True)
    # an empty directory is taken with force, as a saved fit is
    empty = tmp_path / "empty"
    empty.mkdir()
    save_fit(fake_fit, empty, force=True)
    assert sorted(p.name for p in empty.iterdir()) == sorted(FIT_FILES)


def test_interrupted_save_leaves_previous_fit_intact(fake_fit, saved, monkeypatch):
    fit = fake_fit
    before = _files(saved)
    expected = load_fit(saved).predict(TARGETS)

    def boom(self, *args, **kwargs):
        # write a partial file first, like a crash half-way through
        with open(args[0] if args else kwargs["filepath"], "wb") as fh:
            fh.write(b"\x89HDF partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        save_fit(fit, saved, force=True)
    monkeypatch.undo()
    assert _files(saved) == before
    pd.testing.assert_frame_equal(load_fit(saved).predict(TARGETS), expected)
    assert [p.name for p in saved.parent.iterdir()] == ["fit"]  # no .fit.tmp-* left behind


def test_interrupted_first_save_leaves_nothing(fake_fit, tmp_path, monkeypatch):
    fit = fake_fit
    monkeypatch.setattr(xr.DataTree, "to_netcdf", lambda self, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_fit(fit, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_swapping_directories_restores_previous_fit(fake_fit, saved, monkeypatch):
    fit = fake_fit
    before = _files(saved)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append((str(src), str(dst)))
        if len(calls) == 2:  # old fit already moved aside; moving the new one in fails
            raise PermissionError("simulated failure")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(PermissionError, match="simulated failure"):
        save_fit(fit, saved, force=True)
    monkeypatch.undo()
    assert len(calls) == 3  # old -> backup, (failed) tmp -> path, backup -> path
    assert _files(saved) == before
    load_fit(saved)
    assert [p.name for p in saved.parent.iterdir()] == ["fit"]


# ----------------------------------------------------------------------------- no code from the file


def test_loading_runs_no_code_from_the_file(saved, tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    payload = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    # a payload in a free-text field, with the checksum recomputed so that the file passes the integrity checks
    _edit_json(saved, lambda c: c.update(notes=[payload], sampler_used=payload), reseal=True)
    load_fit(saved)  # warm-up: every lazy import done
    forbidden = []

    def trap(name):
        def f(*a, **k):
            forbidden.append(name)
            raise AssertionError(f"{name} called while loading a fit")

        return f

    for mod, name in ((pickle, "load"), (pickle, "loads"), (builtins, "eval"), (builtins, "exec"),
                      (builtins, "compile")):
        monkeypatch.setattr(mod, name, trap(name))
    loaded = load_fit(saved)
    monkeypatch.undo()
    assert forbidden == []
    assert not marker.exists()
    assert loaded.notes == [payload] and loaded.sampler_used == payload  # kept as inert text
    # a payload in a field that must name something is refused, not evaluated
    _edit_json(saved, lambda c: c.update(law=payload), reseal=True)
    with pytest.raises(FitFileError, match=r"a field is malformed \(ValueError: unknown law"):
        load_fit(saved)
    assert not marker.exists()


# ----------------------------------------------------------------------------- the format, without a fit


def test_io_writes_and_reads_a_configuration_not_a_fit(tmp_path):
    """write_fit/read_fit know files: any JSON configuration, the draws and the runs, checked on the way back."""
    post = xr.Dataset({"x": (("chain", "draw"), np.arange(6.0).reshape(2, 3))})
    tree = xr.DataTree.from_dict({"posterior": post})
    runs = pd.DataFrame({"params": [1e9], "tokens": [2e10], "loss": [2.5], "domain": ["007"]})
    path = write_fit(tmp_path / "f", {"bayes_scaling_version": "0.1.0", "anything": [1, 2]}, tree, runs)
    saved = read_fit(path, required=("anything",))
    assert saved.config["anything"] == [1, 2] and saved.config["format_version"] == FORMAT_VERSION
    assert set(saved.config) == {"format_version", "bayes_scaling_version", "anything", "checksums", "config_sha256"}
    np.testing.assert_array_equal(saved.posterior["posterior"]["x"].values, post["x"].values)
    assert saved.runs["domain"].tolist() == ["007"]  # domain names stay text
    with pytest.raises(FitFileError, match=r"lacks the field\(s\) 'law': it is damaged or was edited"):
        read_fit(path, required=("law",))


def test_a_fit_saved_by_the_previous_model_is_refused_with_the_fix(tmp_path):
    """tests/data/main-format-2 was written by bayes_scaling 0.1 (format 2), whose hierarchy sampled other
    coordinates: its between-domain spreads cannot give a new-domain forecast in this model, so it is refused
    with the fix, never read into wrong numbers."""
    with pytest.raises(FitFileError) as err:
        ScalingFit.load(MAIN_FIT / "fit")
    assert str(err.value) == (
        f"'{MAIN_FIT / 'fit'}' uses saved-fit format 2 but this bayes_scaling reads format 3; it was written by "
        "bayes_scaling 0.1.0. Refit with this version or install the version that wrote it.")



def test_a_runs_table_given_as_a_fit_says_to_fit_it_first(tmp_path):
    """`decide runs.csv ...` said only that it is not a fit directory (a fresh user)."""
    runs = tmp_path / "runs.csv"
    runs.write_text("params,tokens,loss\n1e8,2e9,3.1\n")
    with pytest.raises(FitFileError) as err:
        load_fit(runs)
    assert str(err.value) == (f"'{runs}' is not a saved fit directory (it should hold fit.json and posterior.nc). It "
                              f"looks like a runs table: fit it first (bayes-scaling fit {runs} --out DIR, or "
                              "bayes_scaling.ScalingLaw().fit) and give the fit's directory DIR.")

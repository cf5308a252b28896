"""The one "did you mean ...?" of the package, and its shared number wording (bayes_scaling._text)."""

import numpy as np

from bayes_scaling._text import CLOSE_ENOUGH, closest_name, did_you_mean


def test_the_closest_known_name_is_suggested_in_one_wording():
    assert closest_name("helaswag", ["piqa", "hellaswag", "hellaswag_zeroshot"]) == "hellaswag"
    assert did_you_mean("helaswag", ["piqa", "hellaswag"]) == "did you mean 'hellaswag'?"


def test_nothing_is_suggested_when_no_name_is_close():
    assert closest_name("zzz", ["params", "tokens"]) is None
    assert did_you_mean("zzz", ["params", "tokens"]) == ""


def test_the_cutoff_decides_what_counts_as_close():
    # 'c4_orig' vs 'c4_original': similarity 0.78, suggested at difflib's default 0.6, not at 0.8
    assert CLOSE_ENOUGH == 0.6
    assert did_you_mean("c4_orig", ["c4_original"]) == "did you mean 'c4_original'?"
    assert did_you_mean("c4_orig", ["c4_original"], cutoff=0.8) == ""
    assert did_you_mean("c4_originl", ["c4_original"], cutoff=0.8) == "did you mean 'c4_original'?"


def test_names_are_compared_as_text():
    assert closest_name(1024, ["1025", "tokens"]) == "1025"


def test_with_contains_a_part_of_known_names_gets_them():
    doms = ["rpj/c4_val", "rpj/paloma_ptb", "rw/c4_val", "c4/c4_val", "c4/ptb"]
    assert did_you_mean("rpj", doms, cutoff=0.8) == ""  # no near-typo
    assert did_you_mean("rpj", doms, cutoff=0.8, contains=True) == "did you mean 'rpj/c4_val' or 'rpj/paloma_ptb'?"
    assert did_you_mean("C4_VAL", doms, cutoff=0.8, contains=True) == ("did you mean 'rpj/c4_val' or 'rw/c4_val' or "
                                                                       "'c4/c4_val'?")  # at most three
    assert did_you_mean("rpj/c4_vla", doms, cutoff=0.8, contains=True) == "did you mean 'rpj/c4_val'?"  # typo first
    assert did_you_mean(" ", doms, contains=True) == ""


def test_format_span_gives_one_value_when_both_ends_read_the_same():
    from bayes_scaling._text import format_span

    assert format_span([5.0, 10.0, 7.0]) == "5-10"
    assert format_span(np.array([20.001, 19.999])) == "20"  # not "20-20" (the allocation note had its own copy)
    assert format_span([1234.5]) == "1.23e+03"


def test_a_known_name_that_is_a_word_of_the_name_comes_first():
    # 'rpj_original' beside a domain 'rpj' was asked "did you mean 'rw_original'?" (a fresh user)
    known = ["c4_original", "rpj", "rw_original"]
    assert did_you_mean("rpj_original", known, cutoff=0.8, contains=True) == "did you mean 'rpj' or 'rw_original'?"
    assert did_you_mean("rpj_original", known, cutoff=0.8) == "did you mean 'rw_original'?"  # only where asked
    assert did_you_mean("rw_orignal", known, cutoff=0.8, contains=True) == "did you mean 'rw_original'?"
    assert did_you_mean("pile", known, cutoff=0.8, contains=True) == ""


def test_a_name_that_differs_only_in_case_is_the_closest():
    # '--metric HellaSwag' got no suggestion: difflib's ratio is case-sensitive (a fresh user)
    assert closest_name("HellaSwag", ["hellaswag", "piqa"]) == "hellaswag"
    assert did_you_mean("RPJ", ["rpj", "rw"], cutoff=0.8) == "did you mean 'rpj'?"
    assert closest_name("piqa", ["hellaswag", "piqa"]) == "piqa"  # itself, as before

"""The text-encoder experiment's table and per-split verdict (experiments/text_encoders.py)."""
import pytest

from conftest import load_experiment


@pytest.fixture(scope="module")
def text_encoders():
    return load_experiment("text_encoders")


def _runs(top1s):
    return [{"zsl_top1": t, "zsl_top1_per_class": t, "ausuc": t / 100, "gzsl_h": t} for t in top1s]


def test_verdict_names_the_best_encoder_and_every_difference_to_tfidf(text_encoders):
    results = {
        ("s_easy", "tfidf"): _runs([30, 32]), ("s_easy", "tfidf_gazsl"): _runs([33, 35]),
        ("s_easy", "minilm"): _runs([10, 12]), ("s_easy", "minilm_visual"): _runs([20, 22]),
        ("s_hard", "tfidf"): _runs([14, 14]), ("s_hard", "tfidf_gazsl"): _runs([12, 12]),
        ("s_hard", "minilm"): _runs([6, 6]), ("s_hard", "minilm_visual"): _runs([9, 11]),
    }
    easy, hard = text_encoders.closing_note(results, ["s_easy", "s_hard"]).splitlines()
    assert easy.startswith("- s_easy: best zsl_top1 is **tfidf_gazsl** (34.00 ± 1.41%)")
    assert "tfidf_gazsl +3.00, minilm -20.00, minilm_visual -10.00" in easy
    assert hard.startswith("- s_hard: best zsl_top1 is **tfidf** (14.00 ± 0.00%)")
    assert "tfidf_gazsl -2.00, minilm -8.00, minilm_visual -4.00" in hard

    table = text_encoders.results_table(results, ["s_easy", "s_hard"]).splitlines()
    assert len(table) == 2 + 8 and table[2].startswith("| s_easy | tfidf | 31.00 ± 1.41 |")
    assert table[2].endswith("| 0.310 ± 0.014 | 31.00 ± 1.41 | 2 |")


def test_the_configs_own_text_is_the_reproduce_tables_run_and_the_others_run_beside_it(text_encoders, tmp_path):
    import json
    from pathlib import Path

    (tmp_path / "s_easy.json").write_text(json.dumps({"split": "s_easy", "preset": "cpu", "overrides": {}}))
    (tmp_path / "s_hard.json").write_text(json.dumps({"split": "s_hard", "preset": "cpu",
                                                      "overrides": {"text": "tfidf_gazsl"}}))
    runs = Path("runs/reproduce")
    assert text_encoders.text_runs(runs, "s_easy", "tfidf", tmp_path) == runs  # runs/reproduce/s_easy/honest/seedK
    assert text_encoders.text_runs(runs, "s_easy", "minilm", tmp_path) == runs / "texts" / "minilm"
    assert text_encoders.text_runs(runs, "s_hard", "tfidf", tmp_path) == runs / "texts" / "tfidf"
    assert text_encoders.text_runs(runs, "s_hard", "tfidf_gazsl", tmp_path) == runs


def test_verdict_from_the_text_benchmark_opens_both_files(text_encoders, tmp_path):
    import json
    from pathlib import Path

    def d(mean, low, high):
        return {"versus_tfidf": {"mean": mean, "low": low, "high": high, "wins": 0, "losses": 0}}

    design = {"candidate": "cand", "method": "prototype", "protocols": ["p_scs", "p_sce"],
              "variants": {"cand": "the candidate", "oracle": "attributes, not text", "weak": "a weak text"}}
    summary = {"p_scs": {"tfidf": {"versus_tfidf": None}, "cand": d(-0.5, -2.2, 1.1), "oracle": d(18, 1.3, 35),
                         "weak": d(-9, -19, -0.8)},
               "p_sce": {"tfidf": {"versus_tfidf": None}, "cand": d(1.0, 0.2, 1.8), "oracle": d(18, 10, 27),
                         "weak": d(-9, -23, 4)}}
    (tmp_path / "text_benchmark.json").write_text(json.dumps({"design": design, "summary": summary}))
    lines = text_encoders.text_verdict(tmp_path / "text_benchmark.json").splitlines()
    assert len(lines) == 3 and all(line.endswith("  ") for line in lines)  # three markdown lines, one paragraph
    assert lines[0].endswith("`cand` minus TF-IDF, points of top-1: -0.5 [-2.2, +1.1] (p_scs); +1.0 [+0.2, +1.8] (p_sce).  ")
    assert ("Shown above TF-IDF: oracle on p_scs and p_sce (attributes, not text); cand on p_sce (the candidate); "
            "shown below it: weak on p_scs;") in lines[1]
    # put atop a file as the experiment writes it, then replaced, never stacked
    result = tmp_path / "text_encoders.md"
    result.write_text("# Text encoders\n\nMade by: `x`\n\n| table |\n")
    text_encoders.main(["verdict", "--files", str(result), "--text-benchmark", str(tmp_path / "text_benchmark.json")])
    text_encoders.main(["verdict", "--files", str(result), "--text-benchmark", str(tmp_path / "text_benchmark.json")])
    assert result.read_text() == "# Text encoders\n\n" + "\n".join(lines) + "\n\nMade by: `x`\n\n| table |\n"
    # the committed files open with the verdict of the committed benchmark
    results = Path(__file__).resolve().parents[1] / "experiments" / "results"
    verdict = text_encoders.text_verdict(results / "text_benchmark.json")
    for name in ("text_encoders.md", "text_encoders_proxy.md"):
        assert (results / name).read_text().split("\n\n")[1] == verdict

"""`sizeup run --data`: the task identified from small hand-made tables (ambiguous ones included),
every bad input a one-line error with exit 2 and nothing written, and one real run on a table."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import cli
from harness.errors import SizeupError
from harness.run import bounded, userdata
from tests.conftest import needs_quiet
from workloads import user

RNG = np.random.default_rng(0)
N = 120


def table(tmp_path: Path, name: str = "t.csv", **columns) -> Path:
    path = tmp_path / name
    frame = pd.DataFrame({"x1": RNG.normal(size=N), "x2": RNG.normal(size=N), **columns})
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("target, task, detail", [
    (np.where(RNG.random(N) > 0.5, "yes", "no"), "classification", "binary"),
    (RNG.choice(["a", "b", "c"], N), "classification", "multiclass (3 classes)"),
    (RNG.integers(0, 2, N), "classification", "binary"),
    (RNG.normal(size=N) * 10, "regression", ""),
])
def test_the_target_decides_between_classification_and_regression(tmp_path: Path, target, task: str,
                                                                  detail: str) -> None:
    found = userdata.identify(table(tmp_path, y=target), "y")
    assert (found.task, found.detail, found.rows) == (task, detail, N)
    assert found.reasons and not found.ambiguous and len(found.sha256) == 64


def test_rows_without_a_target_are_counted_and_said(tmp_path: Path) -> None:
    y = np.where(RNG.random(N) > 0.5, "yes", "no").astype(object)
    y[:72] = None
    found = userdata.identify(table(tmp_path, y=y), "y")
    assert (found.task, found.rows, found.no_target) == ("classification", N - 72, 72)
    assert any(f"72 of {N:,} rows" in r for r in found.reasons)


def test_ambiguous_evidence_is_said_with_the_flag_that_decides(tmp_path: Path) -> None:
    ratings = userdata.identify(table(tmp_path, stars=RNG.integers(1, 6, N)), "stars")
    assert ratings.task == "classification" and any("--task regression" in a for a in ratings.ambiguous)
    counts = userdata.identify(table(tmp_path, visits=RNG.integers(0, 500, N)), "visits")
    assert counts.task == "regression" and any("--task classification" in a for a in counts.ambiguous)
    guessed = userdata.identify(table(tmp_path, label=RNG.choice(["a", "b"], N)))
    assert guessed.target == "label" and any("--target COLUMN decides" in a for a in guessed.ambiguous)
    forced = userdata.identify(table(tmp_path, stars=RNG.integers(1, 6, N)), "stars", task="regression")
    assert forced.task == "regression" and forced.reasons == ["--task regression"]


def test_dates_make_a_forecast_and_long_text_an_nlp_task(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=N).strftime("%Y-%m-%d")
    dated = userdata.identify(table(tmp_path, "d.parquet", date=days, sales=RNG.poisson(20, N)), "sales")
    assert dated.task == "forecasting" and "date/time column 'date'" in dated.reasons[0]
    assert any("--task regression" in a for a in dated.ambiguous)
    words = ["the service was slow", "great food and a friendly waiter", "never again, cold soup", "fine"]
    reviews = [" ".join(RNG.choice(words, 6)) + f" #{i}" for i in range(N)]
    text = userdata.identify(table(tmp_path, review=reviews, stars=RNG.integers(1, 6, N)), "stars")
    assert text.task == "nlp" and "free-text column 'review'" in text.reasons[0]


def image_folder(root: Path, per_class: int, classes: tuple[int, ...] = (0, 1)) -> Path:
    """scikit-learn's 8x8 digits as PNG files, one sub-folder per digit: a folder a user might have."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for label in classes:
        (root / f"digit{label}").mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == label][:per_class]):
            Image.fromarray((image * 15).astype(np.uint8)).save(root / f"digit{label}" / f"{i}.png")
    return root


def test_an_image_folder_is_vision_resized_to_its_median_side_and_hashed(tmp_path: Path) -> None:
    from PIL import Image

    folder = image_folder(tmp_path / "img", 3)
    Image.new("RGB", (40, 30)).save(folder / "digit1" / "big.jpg")
    found = userdata.identify(folder)
    assert (found.task, found.detail, found.rows, found.resolution) == ("vision", "2 classes", 7, 8)
    assert "images resized to 8 x 8 RGB" in found.reasons[1]
    with pytest.raises(SizeupError, match="7 images to learn from; at least 30 are needed"):
        userdata.suite(found)
    (folder / "digit1").rename(folder / "one")  # a class renamed is other data
    assert userdata.identify(folder).sha256 != found.sha256
    with pytest.raises(SizeupError, match="--target is for tables"):  # it had been passed over, unsaid
        userdata.identify(folder, target="price")


def swept(rows: int) -> list[int]:
    """The sizes a run --data sweep of a table of `rows` measures, where every step is quick."""
    from harness.records import Case
    from harness.run import sweep
    from tests import builders

    found = userdata.Identified(Path("t.csv"), "regression", "", "y", rows)
    rule = sweep.Sweep(**userdata.suite(found)["sweep"])
    done: list = []
    while (size := sweep.next_size(rule, done, 2**34, rows)[0]) is not None:
        done.append(builders.record(Case("user_regression", "linear", "sklearn", size, 2), [0.01 * size / rows]))
    return [r.case.size for r in done]


def test_a_small_table_gives_three_sizes_where_the_smallest_subsample_allows() -> None:
    """60 images or 300 steps per series had given two (30 and 60): no time to predict, and 'No option'."""
    assert swept(60) == [30, 43, 60]
    assert swept(178) == [45, 90, 178]  # doubling, as larger tables
    assert swept(100_000) == [1563, 3126, 6252, 12504, 25008, 50016, 100_000]  # 1/64 of the rows at most
    assert swept(40) == [40]  # a step of under 1.25x from the smallest subsample (30) is none: the whole table
    assert swept(47) == [47] and swept(48) == [30, 38, 48]  # never two subsamples that leave the whole table out
    assert all(swept(n)[-1] == n and len(swept(n)) >= 3 for n in range(48, 400))


def test_whole_numbers_are_offered_as_classes_only_where_a_value_repeats(tmp_path: Path) -> None:
    """A price in whole numbers, each once, had been offered '--task classification', which is then refused."""
    prices = RNG.permutation(np.arange(1000, 1000 + N))
    found = userdata.identify(table(tmp_path, x=RNG.normal(size=N), price=prices), "price")
    assert found.task == "regression" and not any("--task classification" in a for a in found.ambiguous)
    with pytest.raises(SizeupError, match="each once"):
        userdata.identify(table(tmp_path, x=RNG.normal(size=N), price=prices), "price", task="classification")
    repeats = userdata.identify(table(tmp_path, x=RNG.normal(size=N), price=prices // 5 * 5), "price")
    assert repeats.task == "regression" and any("--task classification" in a for a in repeats.ambiguous)


def test_text_is_classified_into_the_targets_classes(tmp_path: Path) -> None:
    words = ["the service was slow", "great food and a friendly waiter", "never again, cold soup", "fine"]
    reviews = [" ".join(RNG.choice(words, 6)) + f" #{i}" for i in range(N)]
    path = table(tmp_path, review=reviews, stars=RNG.integers(1, 6, N))
    found = userdata.identify(path, "stars")
    assert (found.task, found.text, found.detail) == ("nlp", "review", "multiclass (5 classes)")
    assert "the other 2 column(s) are left out" in found.reasons[-1]
    params = userdata.suite(found)["params"]
    assert params["text"] == "review" and params["target"] == "stars"
    from workloads.user_text import generate

    split = generate(100, 0, params)
    assert len(split.X_train) == 80 and len(split.X_test) == 20
    assert all(doc == doc.lower() and "," not in doc for doc in split.X_train)  # word tokens, lower-cased


def png_claiming(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims `width` x `height` pixels over a few bytes of data (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4))
                     + chunk(b"IEND", b""))


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    from PIL import Image

    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 50)
    (tmp_path / "data.xlsx").write_text("not a table")
    one = tmp_path / "one_class"
    (one / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(one / "cat" / "0.png")
    broken = tmp_path / "broken"
    for label in ("cat", "dog"):
        (broken / label).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(broken / label / "0.png")
    (broken / "dog" / "1.png").write_bytes(b"not a png")
    corrupt = tmp_path / "corrupt"  # a header that verifies over data that does not decode
    for label in ("cat", "dog"):
        (corrupt / label).mkdir(parents=True)
        Image.fromarray(RNG.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(corrupt / label / "0.png")
    raw = (corrupt / "dog" / "0.png").read_bytes()
    (corrupt / "dog" / "0.png").write_bytes(raw[:60] + bytes(len(raw) - 60))
    for side in (12_000, 20_000):  # 144 MP (Pillow warns) and 400 MP (Pillow refuses to open it)
        for label in ("cat", "dog"):
            (tmp_path / f"bomb{side}" / label).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(tmp_path / f"bomb{side}" / label / "0.png")
        png_claiming(tmp_path / f"bomb{side}" / "dog" / "1.png", side, side)
    pd.DataFrame({"a": RNG.normal(size=N), "nested": [[1, 2]] * N, "y": RNG.integers(0, 2, N)}).to_parquet(
        tmp_path / "nested.parquet")
    (tmp_path / "twice.csv").write_text("a,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(N)))
    (tmp_path / "wide.csv").write_text(",".join(f"c{i}" for i in range(10**6)) + "\n")
    huge = RNG.normal(size=N)
    huge[9] = -1e308
    days = np.repeat(pd.date_range("2024-01-01", periods=N // 2).astype(str), 2)
    return {
        "nested values": ([str(tmp_path / "nested.parquet"), "--target", "y"], "column 'nested' holds nested values"),
        "a name twice": ([str(tmp_path / "twice.csv"), "--target", "y"], "column name(s) 'a' appear more than once"),
        "a million columns": ([str(tmp_path / "wide.csv")], "the header line is longer than 4 MiB"),
        "inf in a feature": ([str(table(tmp_path, "i.csv", a=[1.0] * 17 + [np.inf] + [1.0] * (N - 18),
                                        y=RNG.integers(0, 2, N))), "--target", "y"], "feature 'a' holds inf at row 18"),
        "1e308 in the target": ([str(table(tmp_path, "j.csv", y=huge)), "--target", "y"],
                                "the target 'y' holds -1e+308 at row 10"),
        "dates twice, no series": ([str(table(tmp_path, "k.csv", day=days, sales=RNG.normal(size=N))), "--target",
                                    "sales"], "60 rows repeat a date of their series (first at row 2)"),
        "--horizon for a table that is no forecast": ([str(table(tmp_path, "l.csv", y=RNG.integers(0, 2, N))),
                                                       "--target", "y", "--horizon", "3"], "are for forecasting"),
        "a target that names rows": ([str(table(tmp_path, "m.csv", y=[f"id-{i}" for i in range(N)])), "--target", "y"],
                                     "the target 'y' has 120 values, each once"),
        "a forecast of text": ([str(table(tmp_path, "n.csv", day=pd.date_range("2024-01-01", periods=N).astype(str),
                                          y=RNG.choice(["a", "b", "c"], N))), "--target", "y", "--task", "forecasting"],
                               "--task forecasting needs a numeric target"),
        "corrupt image data": ([str(corrupt)], "unreadable image"),
        "a 144-megapixel image": ([str(tmp_path / "bomb12000")], "more than the 50 megapixels sizeup reads"),
        "a 400-megapixel image": ([str(tmp_path / "bomb20000")], "more than the 50 megapixels sizeup reads"),
        "sizes past the table": ([str(table(tmp_path, "o.csv", y=RNG.integers(0, 2, N))), "--target", "y", "--sizes",
                                  f"60,{N + 1}"], f"--sizes {N + 1}: "),
        "missing file": ([str(tmp_path / "nope.csv")], "no such file or folder"),
        "empty file": ([str(tmp_path / "empty.csv")], "the file is empty"),
        "unreadable file": ([str(tmp_path / "binary.csv")], "not UTF-8 text (byte 0xff at offset 0)"),
        "unsupported format": ([str(tmp_path / "data.xlsx")], "unsupported format '.xlsx'"),
        "missing target": ([str(table(tmp_path, "a.csv", y=RNG.normal(size=N))), "--target", "price"],
                           "no column 'price'"),
        "all-null target": ([str(table(tmp_path, "b.csv", y=[np.nan] * N)), "--target", "y"],
                            "the target 'y' is empty"),
        "constant target": ([str(table(tmp_path, "c.csv", y=[3.0] * N)), "--target", "y"],
                            "the target 'y' is constant (3.0)"),
        "one class": ([str(table(tmp_path, "e.csv", y=["a"] * (N - 1) + [None])), "--target", "y"],
                      "the target 'y' is constant"),
        "image folder with one class": ([str(one)], "needs two or more sub-folders of images"),
        "a table as vision": ([str(table(tmp_path, "h.csv", y=RNG.integers(0, 2, N))), "--task", "vision"],
                              "a table is not a vision task"),
        "unreadable image": ([str(broken)], "unreadable image"),
        "empty text column": ([str(table(tmp_path, "f.csv", note=[" " * 60] * N, y=RNG.integers(0, 2, N))),
                               "--target", "y", "--task", "nlp"], "the text column 'note' is empty"),
        "text with a numeric target": (
            [str(table(tmp_path, "g.csv", note=["a long note " * 8 + str(i) for i in range(N)], y=RNG.normal(size=N))),
             "--target", "y"], "the NLP benchmark classifies text, and the target 'y' holds 120 numeric values"),
    }


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")  # on a terminal it would print raw
def test_every_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    for name, (args, message) in bad_inputs(tmp_path).items():
        results = tmp_path / f"results-{name.replace(' ', '-')}"
        code = cli.main(["run", "--data", *args, "--results-dir", str(results)])
        err = capsys.readouterr().err
        assert code == cli.EXIT_USAGE, name
        assert message in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not results.exists(), name


@pytest.mark.quiet
@pytest.mark.e2e
def test_a_users_table_is_benchmarked_on_subsamples_and_sized_for_its_whole(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.datasets import load_wine

    needs_quiet()
    wine = load_wine(as_frame=True).frame  # 178 rows, 3 cultivars as 0, 1, 2
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    before = path.read_bytes()
    # Three repeats: a fit takes milliseconds here, and with one a noisy size can leave no time worth acting on.
    assert cli.main(["run", "--data", str(path), "--target", "target", "--backends", "xgboost,sklearn",
                     "--models", "xgboost,linear", "--repeats", "3", "--results-dir", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "178 rows -> classification (multiclass (3 classes))" in out
    assert "holds 3 distinct whole numbers: classes" in out
    assert "user_classification at 178 rows: each configuration's cheapest VM" in out
    *said, another = out.split("each configuration's cheapest VM")[1].splitlines()
    assert max(map(len, said)) <= 100 and another.startswith("For another size: ")  # piped: recommend's width
    assert path.read_bytes() == before  # read, never written
    result = next((tmp_path / "results").rglob("*.json"))
    doc = json.loads(result.read_text())
    sizes = sorted({c["case"]["size"] for c in doc["cases"]})
    assert sizes == [45, 90, 178]  # a quarter, a half (no fewer than 30 rows) and the whole table
    params = doc["cases"][0]["params"]
    assert params["path"] == str(path.resolve()) and len(params["file_sha256"]) == 64
    # The id names the file and its hash; what the file decides (rows, schema, columns) is in the params.
    assert doc["cases"][0]["case"]["id"] == (f"user_classification/{doc['cases'][0]['case']['model']}@"
                                             f"{doc['cases'][0]['case']['backend']}/n=45/t=2,"
                                             f"data=wine.csv#{params['file_sha256'][:12]},target=target")
    assert json.loads(params["schema"])["alcohol"] == "float64"
    assert all(c["runs"][-1]["quality"]["accuracy"] > 0.8 for c in doc["cases"] if c["case"]["size"] == 178)
    # A pick needs clean times: where other processes took the CPU through every repeat of a size (in CI, a run
    # beside it once did), the answer is rightly none.
    contended = [c["case"]["id"] for c in doc["cases"] if all(r["disturbed"] for r in c["runs"] if not r["cold"])]
    if contended:
        pytest.skip(f"other processes used the CPU through every repeat of {len(contended)} case(s): no pick to check")
    assert "<- best value" in out, out


def test_dates_and_identifiers_are_numbers_and_short_text_is_categories() -> None:
    from workloads.user import column_kinds

    frame = pd.DataFrame({"amount": RNG.normal(size=400), "day": pd.date_range("2020-01-01", periods=400).astype(str),
                          "customer": [f"c{i}" for i in range(400)], "region": RNG.choice(["n", "s"], 400),
                          "vip": RNG.random(400) > 0.5})
    assert column_kinds(frame) == (["amount", "day", "customer"], ["region", "vip"])


def daily_sales(tmp_path: Path, days: int = 120) -> Path:
    """Two stores' daily sales with a weekly pattern: a long-format table as a data scientist keeps one."""
    dates = pd.date_range("2024-01-01", periods=days)
    frame = pd.concat([pd.DataFrame({"day": dates.strftime("%Y-%m-%d"), "store": store,
                                     "sales": 50 + 20 * (dates.day_of_week >= 5) + RNG.normal(0, 3, days) + 10 * k})
                       for k, store in enumerate(("north", "south"))])
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("horizon", [1, 3, 5, 28])
def test_the_shortest_series_a_forecast_accepts_is_one_its_workload_can_learn_from(tmp_path: Path,
                                                                                  horizon: int) -> None:
    from workloads import catalogue

    def series(name: str, days: int) -> Path:
        pd.DataFrame({"day": pd.date_range("2024-01-01", periods=days).astype(str),
                      "y": RNG.normal(size=days)}).to_csv(tmp_path / name, index=False)
        return tmp_path / name

    days = user.min_steps(horizon)
    found = userdata.identify(series("t.csv", days), "y", horizon=horizon)
    (bench,) = userdata.plan(found)[1]["benchmark"]
    workload = catalogue()[bench["workload"]]
    assert found.steps == bench["sweep"]["start"] == days
    assert len(workload.generate(days, 0, {**workload.params, **bench["params"]}).y_train) >= user.MIN_TRAIN_ROWS
    with pytest.raises(SizeupError, match=f"at least {days}"):
        userdata.identify(series("short.csv", days - 1), "y", horizon=horizon)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_missing_number_in_a_users_table_is_taken_by_every_model(tmp_path: Path, task: str) -> None:
    from workloads import catalogue
    from workloads.base import ModelContext

    gaps = RNG.normal(size=N)
    gaps[::7] = np.nan
    found = userdata.identify(table(tmp_path, gaps=gaps, y=RNG.integers(0, 2, N) if task == "classification"
                                    else RNG.normal(size=N)), "y")
    (bench,) = userdata.plan(found)[1]["benchmark"]
    workload = catalogue()[bench["workload"]]
    params = {**workload.params, **bench["params"]}
    split = workload.generate(N, 0, params)
    assert np.isnan(split.X_train).any()
    for model in workload.models:
        if "sklearn" in model.backends or "xgboost" in model.backends:
            model.build(ModelContext(threads=1, seed=0, device="cpu", params=params)).fit(split.X_train, split.y_train)


def test_series_keys_and_the_horizon_are_found_for_a_forecast(tmp_path: Path) -> None:
    found = userdata.identify(daily_sales(tmp_path), "sales")
    assert (found.task, found.date, found.series, found.steps, found.horizon) == ("forecasting", "day", ["store"],
                                                                                  120, 12)
    assert "2 series keyed by store, 120 steps each at most" in found.reasons[-1]
    assert userdata.identify(daily_sales(tmp_path), "sales", horizon=7).horizon == 7
    with pytest.raises(SizeupError, match="too few to learn a 28-step horizon"):
        userdata.identify(daily_sales(tmp_path, days=60), "sales", horizon=28)
    numbered = tmp_path / "numbered.csv"  # stores numbered, not named: no text column tells the series apart
    pd.read_csv(daily_sales(tmp_path)).replace({"store": {"north": 1, "south": 2}}).to_csv(numbered, index=False)
    with pytest.raises(SizeupError, match="120 rows repeat a date"):
        userdata.identify(numbered, "sales")
    found = userdata.identify(numbered, "sales", series=["store"])
    assert (found.series, found.steps) == (["store"], 120)


@pytest.mark.quiet
@pytest.mark.e2e
def test_a_forecast_is_scored_on_the_last_steps_and_sized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--data", str(daily_sales(tmp_path)), "--target", "sales", "--horizon", "7",
                     "--repeats", "1", "--backends", "xgboost,sklearn", "--results-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "user_forecasting at 120 steps: each configuration's cheapest VM" in out
    doc = json.loads(next((tmp_path / "r").rglob("*.json")).read_text())
    whole = [c for c in doc["cases"] if c["case"]["size"] == 120]
    wape = {c["case"]["model"]: c["runs"][-1]["quality"]["wape"] for c in whole}
    assert wape["xgboost"] < 0.15 and wape["naive"] < 0.15  # a weekly pattern: both forecast it
    from workloads.user import _forecast_generate

    split = _forecast_generate(120, 0, doc["cases"][0]["params"])
    assert len(split.y_test) == 2 * 7  # the last 7 days of each store, never shuffled into training


@pytest.mark.quiet
@pytest.mark.e2e
def test_an_image_folder_is_benchmarked_and_left_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = image_folder(tmp_path / "digits", 150, classes=(0, 1, 7))
    before = sorted((p.name, p.read_bytes()) for p in folder.rglob("*.png"))
    assert cli.main(["run", "--data", str(folder), "--backends", "torch", "--repeats", "1",
                     "--results-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "450 images -> vision (3 classes)" in out and "user_vision at 450 images" in out
    assert sorted((p.name, p.read_bytes()) for p in folder.rglob("*.png")) == before and not list(folder.rglob("*.npy"))
    doc = json.loads(next((tmp_path / "r").rglob("*.json")).read_text())
    assert sorted(c["case"]["size"] for c in doc["cases"]) == [57, 114, 228, 450]
    whole = next(c for c in doc["cases"] if c["case"]["size"] == 450)
    # Chance is 1/3; labels out of step with the pixels would score it. The network's 5 epochs are only 30
    # steps at 360 training images (0.63 here; 0.99 on all 1,797 digits), so the bar is above chance.
    assert whole["runs"][-1]["quality"]["accuracy"] > 0.5


def test_spark_joins_only_a_table_one_machine_might_not_hold_or_a_request(tmp_path: Path) -> None:
    from dataclasses import replace

    from sklearn.datasets import load_wine

    load_wine(as_frame=True).frame.to_csv(tmp_path / "wine.csv", index=False)
    found = userdata.identify(tmp_path / "wine.csv", "target")
    assert userdata.spark_left_out(found) == ["xgboost_spark"]
    assert "xgboost_spark" not in userdata.suite(found)["models"] and "xgboost" in userdata.suite(found)["models"]
    assert "xgboost_spark" in userdata.suite(found, requested=["xgboost_spark"])["models"]
    for large in (replace(found, rows=userdata.SPARK_ROWS), replace(found, memory_bytes=userdata.SPARK_BYTES)):
        assert userdata.spark_left_out(large) == [] and "xgboost_spark" in userdata.suite(large)["models"]


def test_a_small_subsample_of_a_table_with_a_rare_class_trains_on_every_class(tmp_path: Path) -> None:
    from xgboost import XGBClassifier

    from workloads import catalogue

    labels = np.array(["sun"] * 700 + ["rain"] * 600 + ["fog"] * 100 + ["snow"] * 58 + ["hail"] * 3)
    path = tmp_path / "weather.csv"
    pd.DataFrame({"x1": RNG.normal(size=len(labels)), "x2": RNG.normal(size=len(labels)),
                  "weather": RNG.permutation(labels)}).to_csv(path, index=False)
    found = userdata.identify(path, "weather")
    params = userdata.suite(found)["params"]
    start = userdata.suite(found)["sweep"]["start"]
    for seed in range(5):
        split = catalogue()["user_classification"].generate(start, seed, params)
        assert sorted(set(split.y_train)) == list(range(5)), seed  # the first step used to miss a class
        XGBClassifier(n_estimators=2).fit(split.X_train, split.y_train)  # refused the labels before
        assert len(split.y_test) >= 0.15 * start


def test_a_number_that_counts_time_keeps_the_rows_in_order(tmp_path: Path) -> None:
    from workloads import catalogue

    years = np.arange(1700.0, 1700.0 + 300)  # sunspots by year: a series whose time column is a number
    path = tmp_path / "sunspots.csv"
    pd.DataFrame({"year": years, "spots": 50 + 40 * np.sin(years / 11 * 2 * np.pi)}).to_csv(path, index=False)
    found = userdata.identify(path, "spots")
    assert (found.task, found.ordered) == ("regression", "year") and any("year" in a for a in found.ambiguous)
    params = userdata.suite(found)["params"]
    split = catalogue()["user_regression"].generate(200, 0, params)
    assert (split.X_train[:, 0] == years[100:260]).all() and (split.X_test[:, 0] == years[260:]).all()
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(path).sample(frac=1, random_state=0).to_csv(shuffled, index=False)
    assert userdata.identify(shuffled, "spots").ordered == ""  # not in order: not a time index


def test_identification_is_held_to_the_memory_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.csv"
    pd.DataFrame(RNG.normal(size=(300_000, 6)), columns=[*"abcde", "y"]).to_csv(path, index=False)  # 35 MB
    results = tmp_path / "results"
    assert cli.main(["run", "--data", str(path), "--target", "y", "--memory-cap", "4MiB",
                     "--results-dir", str(results)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "reading it takes more than the memory cap of 4 MiB" in err and err.count("\n") == 1, err
    assert not results.exists()
    found = bounded.call(userdata.identify, 2**30, path, "y")  # what comes back from the child is the whole answer
    assert (found.task, found.rows) == ("regression", 300_000)
    with pytest.raises(SizeupError, match="no column 'price'"):
        bounded.call(userdata.identify, 2**30, path, "price")

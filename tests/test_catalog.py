"""The VM catalog: the shipped facts load, and a user's bad file is one clear error with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import cli
from harness.errors import SizeupError
from harness.sizing import catalog

HEADER = ",".join(catalog.COLUMNS)
ROW = "X8,general,8,32,,0,0,0.384,eastus,mine,2026-11-28"


def test_the_shipped_catalog_holds_the_snapshot_and_the_sizes_derived_by_its_rules() -> None:
    vms = {vm.name: vm for vm in catalog.load()}
    assert vms["D32s_v5"].price_per_hour == 1.536 and vms["D32s_v5"].gib_per_vcpu == 4
    assert vms["D2s_v5"].price_per_hour == pytest.approx(1.536 / 16) and "derived" in vms["D2s_v5"].source
    assert vms["E96s_v5"].memory_gib == 672 and vms["E8s_v5"].gib_per_vcpu == 8
    assert vms["M32ms"].memory_gib == 875 and vms["M32ms"].kind == "memory-large"
    h100 = vms["ND96isr_H100_v5"]
    assert (h100.gpu_count, h100.gpu_model, h100.gpu_memory_gib, h100.price_per_hour) == (8, "H100", 80, 98.32)
    assert all("snapshot" in vm.source or "derived" in vm.source for vm in vms.values())


@pytest.mark.parametrize("text, message", [
    ("name,kind,vcpus\nX8,general,8\n", "lacks column(s) memory_gib"),
    (f"{HEADER}\n{ROW.replace('0.384', '-1')}\n", "line 2: price_per_hour must be > 0, got '-1'"),
    (f"{HEADER}\n{ROW.replace('0.384', 'nan')}\n", "price_per_hour must be > 0, got 'nan'"),
    (f"{HEADER}\n{ROW.replace(',8,32,', ',eight,32,')}\n", "vcpus must be a whole number"),
    (f"{HEADER}\n{ROW.replace('general', 'huge')}\n", "kind must be one of"),
    (f"{HEADER}\n{ROW.replace('general', 'gpu')}\n", "a gpu VM needs gpu_count > 0"),
    (f"{HEADER}\n{ROW}\n{ROW}\n", "names X8 more than once"),
    (f"{HEADER}\n", "has no VM sizes"),
])
def test_a_bad_catalog_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(SizeupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        catalog.load(path)


def test_catalog_command_shows_the_default_and_refuses_a_bad_file(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog"]) == 0
    assert "NC40ads_H100_v5" in capsys.readouterr().out
    bad = tmp_path / "c.csv"
    bad.write_text(f"{HEADER}\n{ROW.replace('0.384', '-0.5')}\n")
    assert cli.main(["catalog", str(bad)]) == cli.EXIT_USAGE
    assert "price_per_hour must be > 0" in capsys.readouterr().err
    assert cli.main(["catalog", str(tmp_path / "missing.csv")]) == cli.EXIT_USAGE

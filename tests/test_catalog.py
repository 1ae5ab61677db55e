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
    (f"{HEADER}\n{ROW.replace(',8,32,', ',' + '9' * 400 + ',32,')}\n", "vcpus must be at most 1e\\+06"),
    (f"{HEADER}\n{ROW.replace(',8,32,', ',8,1e300,')}\n", "memory_gib must be at most 1e\\+06"),
    (f"{HEADER}\n", "has no VM sizes"),
    (f"{HEADER}\n{ROW.replace('2026-11-28', 'notadate')}\n", "date must be YYYY-MM-DD"),
    (f"{HEADER}\n{ROW.replace('2026-11-28', '2026-W48-1')}\n", "date must be YYYY-MM-DD"),
    (f"{HEADER}\n{ROW.replace('general,8,32,,0,0', 'gpu,8,32,A100,1,0')}\n", "needs gpu_memory_gib > 0"),
])
def test_a_bad_catalog_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    with pytest.raises(SizeupError, match=message.replace("(", r"\(").replace(")", r"\)")):
        catalog.load(path)


def test_catalog_command_shows_the_default_and_refuses_a_bad_file(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert "NC40ads_H100_v5" in out and max(map(len, out.splitlines())) <= 100  # piped too
    assert "[1] derived: Dsv5 has 4 GiB per vCPU" in out  # each source said once, whole
    bad = tmp_path / "c.csv"
    bad.write_text(f"{HEADER}\n{ROW.replace('0.384', '-0.5')}\n")
    assert cli.main(["catalog", str(bad)]) == cli.EXIT_USAGE
    assert "price_per_hour must be > 0" in capsys.readouterr().err
    assert cli.main(["catalog", str(tmp_path / "missing.csv")]) == cli.EXIT_USAGE


def test_only_vms_that_another_beats_on_memory_at_no_higher_price_are_left_out_of_pricing() -> None:
    rng = __import__("random").Random(0)
    vms = [catalog.VM(f"v{i}", "general", rng.choice([2, 4]), rng.choice([8, 16, 32]), "", 0, 0,
                      rng.choice([0.1, 0.2, 0.4]), "", "", "") for i in range(60)]
    kept = catalog.undominated(vms)
    for need in (4, 8, 16, 32):
        for vcpus in (2, 4):  # the cheapest price per vCPU count for VMs that hold `need`: the same
            def cheapest(pool: list[catalog.VM]) -> float | None:
                return min((v.price_per_hour for v in pool if v.vcpus == vcpus and v.memory_gib >= need), default=None)
            assert cheapest(kept) == cheapest(vms)
    assert len(kept) < len(vms) and kept == [v for v in vms if v in kept]

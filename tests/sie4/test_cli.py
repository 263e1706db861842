"""`sie4 validate`: exit codes, JSON shape and the readable summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sie4.cli import main

MALFORMED = Path(__file__).parent / "malformed"


def test_clean_sample_exits_0_with_summary(samples: Path, capsys) -> None:
    assert main(["validate", str(samples / "Alipsa-SIEParser__44_sie4.se")]) == 0
    out = capsys.readouterr().out
    assert "vouchers:  286, booked rows 949" in out
    assert "#KSUMMA:   ok" in out


def test_error_findings_exit_1_and_json_has_every_field(samples: Path, capsys) -> None:
    path = samples / "idstam-jsisie__SIE4_Exempelfil_med_underdim.SE"
    assert main(["validate", "--json", str(path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"program", "company", "years", "vouchers", "booked_rows", "history_rows",
                         "ksumma", "encoding", "findings"}
    assert data["company"] == {"name": "\ufffdvningsbolaget AB", "orgnr": "555555-5555"}
    assert data["encoding"] == "utf-8"
    assert [f["severity"] for f in data["findings"]
            if f["code"] == "encoding.replacement_characters"] == ["error"]
    assert all(set(f) == {"severity", "code", "line", "message"} for f in data["findings"])


def test_unparseable_file_exits_2_naming_file_and_line(capsys) -> None:
    path = MALFORMED / "voucher_never_closes.se"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:13:" in err
    assert "Traceback" not in err


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "nope.se")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_console_script_is_installed(samples: Path) -> None:
    done = subprocess.run([Path(sys.executable).parent / "sie4", "validate", "--json",
                           str(samples / "idstam-jsisie__Sie4.si")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0
    assert json.loads(done.stdout)["vouchers"] == 165

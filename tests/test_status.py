"""`gafkd status` tells whether results exist and match the current configuration."""

import copy

import pytest
import yaml

from gafkd.cli import main
from gafkd.execution.status import check_results
from test_workflow import TINY, snakemake


@pytest.mark.slow
def test_status_follows_the_config(tmp_path, capsys):
    config = {**TINY, "report": {"html": False}}
    assert check_results(copy.deepcopy(config), tmp_path)[0].startswith("missing")
    assert snakemake(tmp_path, "--cores", "2", config=config).returncode == 0
    assert check_results(copy.deepcopy(config), tmp_path) == []
    changed = copy.deepcopy(config)
    changed["training"]["weight_decay"] = 0.001
    stale = check_results(changed, tmp_path)
    assert len(stale) == 4 + 8 and all(line.startswith("stale") for line in stale)  # every run, not the data
    threads = copy.deepcopy(config)
    threads["training"]["threads"] = 2  # how fast, not what: still up to date
    assert check_results(threads, tmp_path) == []
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(changed))
    assert main(["status", "--config", str(tmp_path / "cfg.yaml"), "--directory", str(tmp_path)]) == 1
    assert "12 result(s) missing or out of date" in capsys.readouterr().out

"""Files a `duckdb.processor` query reads itself (`read_csv('x.csv')`, `read_json`, globs,
`FROM 'x.csv'`) are uploaded to the sandbox, so an e2b run gives what a local run gives; a file
named by an expression is refused before any sandbox exists. The real e2b SDK, the fake envd."""

from __future__ import annotations

import json
from pathlib import Path

from e2b_helpers import osiris_run, summary_of

PIPELINE = """\
oml_version: "0.1.0"
name: query-files
steps:
  - id: totals
    component: duckdb.processor
    mode: transform
    config:
      query: >-
        SELECT o.country, count(*) AS orders, sum(o.amount) AS amount, max(r.rate) AS rate
        FROM (SELECT * FROM read_csv('data/orders.csv') UNION ALL SELECT * FROM read_csv('data/more/part-*.csv')) o
        JOIN read_json('data/rates.json') r USING (country)
        JOIN 'data/countries.csv' c ON c.code = o.country
        GROUP BY o.country ORDER BY o.country
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [totals]
    config:
      path: out/totals.csv
"""


def project(tmp_path: Path, name: str, query_file_expression: bool = False) -> Path:
    folder = tmp_path / name
    (folder / "data" / "more").mkdir(parents=True)
    (folder / "data" / "orders.csv").write_text("country,amount\nCZ,10\nDE,5\nCZ,7\n")
    (folder / "data" / "more" / "part-1.csv").write_text("country,amount\nDE,1\n")
    (folder / "data" / "more" / "part-2.csv").write_text("country,amount\nCZ,2\n")
    (folder / "data" / "rates.json").write_text(json.dumps([{"country": "CZ", "rate": 25}, {"country": "DE", "rate": 1}]))
    (folder / "data" / "countries.csv").write_text("code,name\nCZ,Czechia\nDE,Germany\n")
    (folder / "data" / "unrelated.csv").write_text("not,read\n")
    text = PIPELINE
    if query_file_expression:
        text = text.replace("read_csv('data/orders.csv')", "read_csv('data/' || 'orders.csv')")
    (folder / "pipeline.yaml").write_text(text)
    return folder / "pipeline.yaml"


def test_query_files_are_uploaded_and_both_engines_write_the_same_report(sandbox, tmp_path):
    reports = {}
    for engine in ("local", "e2b"):
        pipeline = project(tmp_path, engine)
        # run from another folder: relative query paths start at the pipeline's folder, as `path:` does
        result = osiris_run(str(pipeline), "--engine", engine, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        reports[engine] = (pipeline.parent / "out" / "totals.csv").read_text()
    assert reports["e2b"] == reports["local"] == "country,orders,amount,rate\nCZ,3,19,25\nDE,2,6,1\n"

    run_id = summary_of(result)["run_id"]
    work = f"/home/user/osiris/{run_id}/work"
    uploads = sandbox.sandbox.uploads
    sent = sorted(path[len(work) + 1:] for path in uploads if path.startswith(work + "/"))
    assert sent == ["data/countries.csv", "data/more/part-1.csv", "data/more/part-2.csv", "data/orders.csv",
                    "data/rates.json"]  # not data/unrelated.csv
    assert uploads[f"{work}/data/rates.json"] == (tmp_path / "e2b" / "data" / "rates.json").read_bytes()


def test_a_query_file_named_by_an_expression_is_refused_before_any_sandbox(sandbox, tmp_path):
    pipeline = project(tmp_path, "expr", query_file_expression=True)
    result = osiris_run(str(pipeline), "--engine", "e2b", "--json", cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr
    summary = summary_of(result)
    assert summary["error"]["code"] == "e2b.query-file-unknown"
    message = summary["error"]["message"]
    assert "step `totals`" in message and "'data/' || 'orders.csv'" in message and "fix:" in message
    assert sandbox.sandbox.commands == [] and sandbox.sandbox.uploads == {}

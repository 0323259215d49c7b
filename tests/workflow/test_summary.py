"""The night's summary, the quick-looks and the HTML report, on the demo run."""

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from skyrms.demo import survey
from skyrms.io.tables import read_tsv
from tests.helpers import snakemake

FRAMES, _ = survey.plan()


def key_of(frame):
    return os.path.relpath(frame.relpath, "scidata")[:-5]


def summary_rows(run):
    lines = (run / "results" / "summary.tsv").read_text().splitlines()
    columns = lines[0].split("\t")
    rows = [dict(zip(columns, line.split("\t"), strict=True)) for line in lines[1:]]
    return {row["frame"]: row for row in rows}


def test_summary_rows_carry_every_figure_and_the_warnings(demo_run):
    rows = summary_rows(demo_run)
    assert set(rows) == {key_of(frame) for frame in FRAMES}
    for frame in FRAMES:
        row = rows[key_of(frame)]
        assert (row["object"], row["unit"], row["filter"]) == (
            frame.object,
            frame.unit,
            frame.filter,
        )
        assert float(row["background_median"]) > 0 and float(row["image_rms_median"]) > 0
        # the ratio is the median of the per-pixel ratio, near the ratio of the medians
        assert float(row["propagated_rms_median"]) / float(row["image_rms_median"]) == (
            pytest.approx(float(row["ratio"]), rel=0.01)
        )
        assert 0 < float(row["masked_fraction"]) < 1
        assert int(row["sources_per_pass"].split(",")[0]) > 0
        masters = survey.frame_masters(frame)
        assert [row[m.imagetyp.lower()] for m in masters] == [Path(m.relpath).name for m in masters]
        unrecorded = [Path(m.relpath).name for m in masters[:2] if m.ncombine is None]
        unrecorded += [Path(frame.relpath).name] if frame.ncombine is None else []
        assert sorted(row["warnings"].count(f" for {name}") for name in unrecorded) == [1] * len(
            unrecorded
        )
        assert row["warnings"].count("NCOMBINE=") == len(unrecorded)


def test_short_exposures_mask_least_but_are_no_outliers(demo_run):
    """Masks end where each source's light meets the frame's noise, so the noisier 30 s
    frames mask least of their object and filter, but not by five robust deviations: the
    demo night has no outlier."""
    rows = summary_rows(demo_run)
    assert not any(row["flags"] for row in rows.values())
    short = {key_of(f) for f in FRAMES if f.exptime == survey.SHORT["exptime"]}
    group = [key_of(f) for f in FRAMES if (f.object, f.filter) == (survey.SHORT["object"], "m600")]
    by_fraction = sorted(group, key=lambda key: float(rows[key]["masked_fraction"]))
    assert set(by_fraction[: len(short)]) == short


def test_a_quicklook_per_frame_showing_the_summarys_ratio(demo_run):
    rows = summary_rows(demo_run)
    for frame in FRAMES:
        png = demo_run / "results" / (key_of(frame) + ".quicklook.png")
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = (int.from_bytes(head[i : i + 4], "big") for i in (16, 20))
        assert (width, height) == (1200, 680)
        log = demo_run / "results" / "logs" / "quicklook" / (key_of(frame) + ".log")
        shown = log.read_text().split("propagated / image-based RMS shown: RMSRATIO ")[1]
        assert float(shown.split()[0]) == float(rows[key_of(frame)]["ratio"])


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update")  # fmt: skip


@pytest.fixture
def browser(tmp_path):
    """Debian's headless chromium, driven through chromedriver."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()


def test_report_opens_in_a_browser_and_shows_the_pictures_and_captions(demo_run, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    report = tmp_path / "report.html"
    snakemake(demo_run, "--report", str(report))
    browser.get(report.as_uri())
    wait = WebDriverWait(browser, 90)  # returns as soon as it holds; a busy machine is slow
    text = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    wait.until(lambda _: "Quick-looks" in text() and "Summary" in text())
    browser.find_element(By.LINK_TEXT, "Quick-looks").click()
    name = key_of(FRAMES[0])
    row = f"//tr[td[text()='{name}']]"
    wait.until(lambda b: b.find_elements(By.XPATH, row))
    browser.find_element(By.XPATH, f"{row}//a[@iconname='eye']").click()
    shown = (
        "return [...document.images].filter(i => i.src.startsWith('data:image/png'))"
        ".map(i => [i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width])"
    )
    wait.until(lambda b: b.execute_script(shown))
    [(width, height, on_screen)] = browser.execute_script(shown)
    assert (width, height) == (1200, 680) and on_screen > 300  # decoded and displayed
    browser.find_element(By.XPATH, f"{row}//a[@iconname='information-circle']").click()
    wait.until(lambda _: "Quick-look of frame" in text())
    assert f"Quick-look of frame {name}" in text() and "propagated / image-based RMS" in text()
    browser.get(report.as_uri())
    wait.until(lambda _: "Summary" in text())
    browser.find_element(By.LINK_TEXT, "Summary").click()
    # the summary's own row: until the page has changed, the quick-looks' rows are still there
    summary = "//tr[td[contains(., 'summary.tsv')]]//a[@iconname='information-circle']"
    wait.until(lambda b: b.find_elements(By.XPATH, summary))
    browser.find_element(By.XPATH, summary).click()
    wait.until(lambda _: "robust standard deviations" in text())


def test_a_run_ends_by_saying_where_everything_is(demo_run):
    said = snakemake(demo_run, "--forcerun", "summary").stdout
    expected = [
        "skyrms: 18 frames. Summary: results/summary.tsv",
        "Products: results/",
        "Quick-looks: results/**/*.quicklook.png",
        "Report: snakemake --report",
    ]
    assert all(line in said for line in expected), said[-1500:]


def test_a_report_after_a_nightly_run_shows_that_runs_summary_and_its_frames(synced, tmp_path):
    night = {key_of(f) for f in FRAMES if f.date_obs.startswith("2025-11-22")}
    nights = sorted(path.name for path in (synced / "results" / "nights").glob("*.tsv"))
    assert len(nights) == 2  # the demo's two nights, each kept by the run that covered it
    snakemake(synced, "--forcerun", "summary", config={"inputs": {"newest_nights": 1}})
    assert set(summary_rows(synced)) == night
    kept = {row["frame"] for path in (synced / "results" / "nights").glob("*.tsv")
            for row in read_tsv(path)}  # fmt: skip
    assert kept == {key_of(f) for f in FRAMES}  # the earlier night's table as it was
    report = tmp_path / "report.zip"
    snakemake(synced, "--report", str(report))  # with the whole demo selected
    with zipfile.ZipFile(report) as archive:
        shown = [name for name in archive.namelist() if name.endswith(".quicklook.png")]
    assert len(shown) == len(night)

"""The studio's page in a real browser: headless Chromium (Debian's, through its chromedriver, with its fake camera)
goes the whole path: two classes, pictures from files and from the camera, the counts and the data check, a
training with its progress and curves, cancelled and resumed, the report, a picture classified from a file and
from the camera, and the ONNX model downloaded and run with onnxruntime to the same answer. Skipped where there
is no browser (.ci/run installs one). VISIONPATH_PAGE_SCREENSHOT=FOLDER also saves each step as the browser shows
it (the README's pictures)."""
from __future__ import annotations

import http.client
import importlib
import os
import shutil
import time
from pathlib import Path

import pytest

import visionpath
from conftest import make_folder
from visionpath import i18n

BROWSER, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.skipif(not (BROWSER and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                 "(apt-get install chromium chromium-driver; .ci/run installs them)"),
              pytest.mark.slow]
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install 'visionpath[page-test]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402  (after the skip)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

studio_module = importlib.import_module("visionpath.studio")


def browser(lang: str = "en-US"):
    """Headless Chromium with a fake camera (a moving test pattern) that it may use without asking."""
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1300", f"--lang={lang}",
                     "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    return webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)


@pytest.fixture
def language_kept():
    """The page sets the studio's language to the browser's: as it was after the test."""
    earlier = i18n.chosen_language()
    yield
    i18n.set_language(earlier)


def shot(driver, step: str) -> None:
    if os.environ.get("VISIONPATH_PAGE_SCREENSHOT"):
        folder = Path(os.environ["VISIONPATH_PAGE_SCREENSHOT"])
        folder.mkdir(parents=True, exist_ok=True)
        element = driver.find_element(By.ID, step)
        driver.execute_script("arguments[0].scrollIntoView(true)", element)  # a screenshot shows what is in view
        element.screenshot(str(folder / f"studio-{step}.png"))


def test_the_whole_path_in_a_browser(tmp_path, language_kept):
    source = make_folder(tmp_path / "source", classes=("ant", "bee"), per_class={"": 30}, size=32)
    with studio_module.studio(tmp_path / "project", port=0, open_browser=False, background=True) as server:
        driver = browser()
        wait = WebDriverWait(driver, 240)
        try:
            driver.get(server.url)
            wait.until(lambda d: d.find_element(By.ID, "project").text)
            # 1. two classes, each with its pictures
            for name in ("ant", "bee"):
                driver.find_element(By.ID, "class-name").send_keys(name)
                driver.find_element(By.CSS_SELECTOR, "#new-class button").click()
                wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.class[data-class="{name}"]'))
                card = driver.find_element(By.CSS_SELECTOR, f'.class[data-class="{name}"]')
                card.find_element(By.CSS_SELECTOR, "input.files").send_keys(
                    "\n".join(str(p) for p in sorted((source / name).iterdir())))
                wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'.class[data-class="{name}"]')
                           .get_attribute("data-count") == "30")
            ant = driver.find_element(By.CSS_SELECTOR, '.class[data-class="ant"]')
            assert ant.find_element(By.CSS_SELECTOR, ".counts").text == "30 pictures (24 to train on · 6 to test)"
            assert len(ant.find_elements(By.CSS_SELECTOR, ".thumbs img")) == 30
            # the camera's burst: a picture every half second while the button is held
            # (held until two pictures came, however long the camera takes to start; released, it stops)
            def ant_count(d) -> int:
                return int(d.find_element(By.CSS_SELECTOR, '.class[data-class="ant"]').get_attribute("data-count"))

            hold = ant.find_element(By.CSS_SELECTOR, ".hold")
            # a tap while the camera is still starting (made slow here) is one picture, not an endless burst
            driver.execute_script(
                "const start = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);"
                "navigator.mediaDevices.getUserMedia = (wanted) =>"
                "  new Promise((resolve) => setTimeout(resolve, 2000)).then(() => start(wanted));")
            ActionChains(driver).click_and_hold(hold).pause(0.2).release().perform()
            wait.until(lambda d: ant_count(d) >= 31)
            time.sleep(1.5)
            assert ant_count(driver) == 31
            ActionChains(driver).click_and_hold(hold).perform()
            wait.until(lambda d: ant_count(d) >= 32)
            ActionChains(driver).release().perform()
            time.sleep(1.5)  # the pictures already on their way arrive
            after_release = ant_count(driver)
            time.sleep(1.5)  # three more half seconds: the burst has stopped
            assert ant_count(driver) == after_release
            # 2. the data check, as the pictures arrived
            wait.until(lambda d: d.find_element(By.ID, "check-verdict").text.startswith(("clean", "warnings")))
            shot(driver, "step-classes")
            shot(driver, "step-check")
            # 3. train with a short budget: progress and curves as it goes; cancel, then train again
            driver.execute_script("document.getElementById('budget').add(new Option('0.5', '0.5'))")
            Select(driver.find_element(By.ID, "budget")).select_by_value("0.5")
            driver.find_element(By.ID, "train").click()
            wait.until(lambda d: int(d.find_element(By.ID, "curves").get_attribute("data-epochs") or 0) >= 1)
            progress = driver.find_element(By.ID, "progress-text").text
            assert progress.startswith("run-1: epoch ") and "of the 0.5-minute budget" in progress
            assert "budget 0.5 minutes" in driver.find_element(By.ID, "log").text  # the plan's lines
            shot(driver, "step-train")
            driver.find_element(By.ID, "cancel").click()
            wait.until(lambda d: d.find_element(By.ID, "progress-box").get_attribute("data-state") == "cancelled")
            kept = int(driver.find_element(By.ID, "progress-box").get_attribute("data-epochs"))
            assert driver.find_element(By.ID, "train").text == "Train again (resume run-1)"
            driver.find_element(By.ID, "train").click()
            wait.until(lambda d: d.find_element(By.ID, "progress-box").get_attribute("data-state") == "finished")
            assert int(driver.find_element(By.ID, "curves").get_attribute("data-epochs")) > kept
            # 4. the report of the finished run
            wait.until(lambda d: (d.find_element(By.ID, "report").get_attribute("src") or "").endswith(
                "/api/runs/run-1/report.html"))
            assert "test pictures it never trained on" in driver.find_element(By.ID, "run-score").text
            driver.switch_to.frame(driver.find_element(By.ID, "report"))
            wait.until(lambda d: "test accuracy" in d.find_element(By.TAG_NAME, "body").text)
            driver.switch_to.default_content()
            shot(driver, "step-result")
            # 5. try it: a picture from a file, then the camera
            picture = sorted((source / "bee").iterdir())[0]
            driver.find_element(By.ID, "try-files").send_keys(str(picture))
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.result[data-file="{picture.name}"]'))
            answer = driver.find_element(By.CSS_SELECTOR, f'.result[data-file="{picture.name}"]')
            from_file = answer.get_attribute("data-label")
            driver.find_element(By.ID, "try-camera").click()
            # the live answer is replaced a few times a second: read in one go, in the page
            camera = wait.until(lambda d: d.execute_script(
                "const live = document.querySelector('.result.live[data-state]');"
                "return live && [live.dataset.file, live.dataset.label]"))
            shot(driver, "step-try")
            driver.find_element(By.ID, "try-camera").click()
            # 6. take it away: the ONNX model behind the download link
            onnx = driver.find_element(By.ID, "onnx").get_attribute("href")
            shot(driver, "step-export")
        finally:
            driver.quit()
        connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=120)
        connection.request("GET", onnx.removeprefix(server.url))
        response = connection.getresponse()
        (tmp_path / "run-1.onnx").write_bytes(response.read())
    assert response.status == 200
    (expected,) = visionpath.predict(tmp_path / "project" / "runs" / "run-1", [picture])
    assert from_file == expected.label
    # the downloaded file, run through onnxruntime, gives the page's answer
    exported = tmp_path / "exported" / "model.onnx"
    exported.parent.mkdir()
    shutil.copy(tmp_path / "run-1.onnx", exported)
    (through_onnx,) = visionpath.predict(exported, [picture])
    assert through_onnx.label == from_file and abs(through_onnx.probability - expected.probability) <= 1e-4
    assert camera[0].startswith("camera-") and camera[1] in ("ant", "bee")

"""The page of `visionpath serve` in a real browser: headless Chromium (Debian's, through its chromedriver) picks two
photos and the page shows the classes the API gives. Skipped where there is no browser: scripts/test_page.sh
installs one and runs this test. VISIONPATH_PAGE_SCREENSHOT=FILE also saves what the browser shows."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import visionpath

BROWSER, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (BROWSER and DRIVER), reason="needs Debian's chromium and chromium-driver: "
                                "scripts/test_page.sh installs them and runs this test")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install 'visionpath[page-test]'; "
                                "scripts/test_page.sh installs it)")
from selenium.webdriver.common.by import By  # noqa: E402  (after the skip: selenium may not be installed)
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def browser():
    """Headless Chromium with a fake camera (a test pattern) that it may use without asking."""
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1000",
                     "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        options.add_argument(argument)
    return webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)


@pytest.mark.slow
def test_the_page_shows_the_classes_of_two_photos_as_the_api_gives_them(trained, photos):
    chosen = [photos / "chelsea.jpg", photos / "coffee.png"]
    expected = {Path(p.path).name: p for p in visionpath.predict(trained["lite0"], chosen, top_k=3)}
    with visionpath.serve(trained["lite0"], port=0, top_k=3, background=True) as server:
        driver = browser()
        try:
            driver.get(server.url)
            WebDriverWait(driver, 30).until(lambda d: "Serving" in d.find_element(By.ID, "about").text)
            about = driver.find_element(By.ID, "about").text
            driver.find_element(By.ID, "files").send_keys("\n".join(map(str, chosen)))
            WebDriverWait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result[data-state]")) == 2)
            cards = {card.get_attribute("data-file"): card for card in driver.find_elements(By.CSS_SELECTOR, ".result")}
            shown = {name: (card.get_attribute("data-label"), card.get_attribute("data-state"),
                            [row.text.split("\n") for row in card.find_elements(By.CSS_SELECTOR, ".bars li")])
                     for name, card in cards.items()}
            if os.environ.get("VISIONPATH_PAGE_SCREENSHOT"):
                driver.save_screenshot(os.environ["VISIONPATH_PAGE_SCREENSHOT"])
        finally:
            driver.quit()
    assert "efficientnet_lite0" in about and "ant, bee, cat" in about
    assert set(shown) == set(expected)
    for name, (label, state, rows) in shown.items():
        mine = expected[name]
        assert label == mine.label and state == ("uncertain" if mine.probability < 0.6 else "sure")
        assert [row[0] for row in rows] == [c for c, _ in mine.top]  # each bar: class, percentage
        assert [float(row[-1].rstrip("%")) for row in rows] == pytest.approx([100 * p for _, p in mine.top], abs=0.051)


@pytest.mark.slow
def test_a_frame_from_the_camera_is_classified(trained):
    with visionpath.serve(trained["cnn"], port=0, background=True) as server:
        driver = browser()
        try:
            driver.get(server.url)
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "camera-button").is_displayed())
            driver.find_element(By.ID, "camera-button").click()
            WebDriverWait(driver, 30).until(
                lambda d: d.execute_script("return document.getElementById('camera-view').videoWidth") > 0)
            driver.find_element(By.ID, "snap").click()
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".result[data-state]"))
            card = driver.find_element(By.CSS_SELECTOR, ".result")
            name, label = card.get_attribute("data-file"), card.get_attribute("data-label")
            bars = len(card.find_elements(By.CSS_SELECTOR, ".bars li"))
        finally:
            driver.quit()
    assert name == "camera-1.jpg" and label in ("ant", "bee", "cat") and bars == 3

"""The studio in headless Chromium, going the whole path on real photos, each step saved as a screenshot to look at
it as a user would (the README's docs/studio/*.png). Needs Debian's chromium and chromium-driver and selenium.

    .venv/bin/python docs/screenshot_studio.py PHOTOS OUTPUT_FOLDER [PER_CLASS] [--lang ja]

PHOTOS: a folder of class subfolders (e.g. hymenoptera's train/); the first PER_CLASS photos of each (default 40)
go into a new studio project, which trains with a one-minute budget.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from visionpath.studio import studio

arguments = [a for a in sys.argv[1:] if a != "--lang" and a not in ("en", "ja")]
lang = "ja" if "ja" in sys.argv[1:] else "en"
photos, output = Path(arguments[0]), Path(arguments[1])
per_class = int(arguments[2]) if len(arguments) > 2 else 40
output.mkdir(parents=True, exist_ok=True)
options = webdriver.ChromeOptions()
options.binary_location = shutil.which("chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1400", "--hide-scrollbars",
                 f"--lang={lang}", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
    options.add_argument(argument)
options.add_experimental_option("prefs", {"intl.accept_languages": lang})


def shot(driver, step: str) -> None:
    element = driver.find_element(By.ID, step)
    driver.execute_script("arguments[0].scrollIntoView(true)", element)
    time.sleep(0.5)
    element.screenshot(str(output / f"studio-{step}{'-ja' if lang == 'ja' else ''}.png"))


with tempfile.TemporaryDirectory() as project, \
        studio(Path(project) / "studio", port=0, open_browser=False, background=True) as server:
    driver = webdriver.Chrome(service=webdriver.ChromeService(shutil.which("chromedriver")), options=options)
    wait = WebDriverWait(driver, 600)
    try:
        driver.get(server.url)
        wait.until(lambda d: d.find_element(By.ID, "project").text)
        classes = sorted(p for p in photos.iterdir() if p.is_dir())
        for folder in classes:
            driver.find_element(By.ID, "class-name").send_keys(folder.name)
            driver.find_element(By.CSS_SELECTOR, "#new-class button").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'.class[data-class="{folder.name}"]'))
            chosen = sorted(p for p in folder.iterdir() if p.is_file())[:per_class]
            card = driver.find_element(By.CSS_SELECTOR, f'.class[data-class="{folder.name}"]')
            card.find_element(By.CSS_SELECTOR, "input.files").send_keys("\n".join(map(str, chosen)))
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f'.class[data-class="{folder.name}"]')
                       .get_attribute("data-count") == str(len(chosen)))
        wait.until(lambda d: not d.find_element(By.ID, "check-verdict").text.startswith(("checking", "チェック中")))
        time.sleep(1)
        shot(driver, "step-classes")
        shot(driver, "step-check")
        driver.execute_script("document.getElementById('budget').value = '1'")
        driver.find_element(By.ID, "train").click()
        # into fine-tuning: the stage-2 epochs drawn after the head's
        wait.until(lambda d: d.find_element(By.ID, "progress-box").get_attribute("data-state") == "running")
        wait.until(lambda d: d.find_element(By.ID, "curves").get_attribute("data-stage") == "2" or
                   d.find_element(By.ID, "progress-box").get_attribute("data-state") != "running")
        time.sleep(3)
        shot(driver, "step-train")
        wait.until(lambda d: d.find_element(By.ID, "progress-box").get_attribute("data-state") == "finished")
        wait.until(lambda d: (d.find_element(By.ID, "report").get_attribute("src") or "").endswith("report.html"))
        time.sleep(2)
        shot(driver, "step-result")
        tried = [sorted(folder.iterdir())[-1] for folder in classes]
        driver.find_element(By.ID, "try-files").send_keys("\n".join(map(str, tried)))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result[data-state]")) == len(tried))
        shot(driver, "step-try")
        shot(driver, "step-export")
    finally:
        driver.quit()
print(f"wrote {output}/studio-step-*.png")

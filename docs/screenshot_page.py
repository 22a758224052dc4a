"""The page of `visionpath serve` in headless Chromium with photos chosen, saved as a screenshot, to look at it as a
user would (the README's docs/serve_page.png). Needs what scripts/test_page.sh installs.

    .venv/bin/python docs/screenshot_page.py RUN OUTPUT.png PHOTO [PHOTO ...]
"""
import shutil
import sys

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import visionpath

run, output, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
options = webdriver.ChromeOptions()
options.binary_location = shutil.which("chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1180", "--hide-scrollbars"):
    options.add_argument(argument)
with visionpath.serve(run, port=0, top_k=3, background=True) as server:
    driver = webdriver.Chrome(service=webdriver.ChromeService(shutil.which("chromedriver")), options=options)
    try:
        driver.get(server.url)
        WebDriverWait(driver, 30).until(lambda d: "Serving" in d.find_element(By.ID, "about").text)
        driver.find_element(By.ID, "files").send_keys("\n".join(photos))
        WebDriverWait(driver, 60).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result[data-state]")) == len(photos))
        driver.save_screenshot(output)
    finally:
        driver.quit()
print(f"wrote {output}")

"""Fixtures for the browser tests: the running system (once per session) and a headless Chromium
driven by Selenium through Debian's chromium-driver, logged in as a given user."""

import os
import shutil

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from stack import ROOT, Stack, wait_for

SCREENSHOTS = os.path.join(ROOT, ".build", "ui-screenshots")
README_SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def stack():
    s = Stack()
    try:
        s.start()
        # Both seed pipelines have run once before any test looks (a viewer must see their runs).
        for dag in ("recommender_training_pipeline", "noblestride_integration_pipeline"):
            run = s.wait_finished(s.trigger(dag))
            assert run["state"] == "succeeded", f"{dag} did not succeed: {run}\n{s.log('lockstep')[-3000:]}"
        yield s
    finally:
        s.stop()


class Browser:
    """One headless Chromium session; remembers console entries it has already judged."""

    def __init__(self, stack, javascript=True, before_load=None):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860",
                    "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US"):
            options.add_argument(arg)
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_script_timeout(30)
        if before_load:
            self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
        self.stack = stack
        self.console = []

    def get(self, path):
        self.driver.get(self.stack.base + path)

    def login(self, username, password):
        self.get("/login")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(lambda: "/login" not in self.driver.current_url, f"{username} to be logged in", timeout=20)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click(self, css):
        """Clicks the element `css` names; a live refresh may swap it out under us, so find it again."""
        def attempt():
            try:
                self.find(css).click()
                return True
            except StaleElementReferenceException:
                return False
        wait_for(attempt, f"{css} to be clickable", timeout=10)

    def text(self):
        return self.find("main").text

    def screenshot(self, name, readme=False):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name + ".png")
        self.driver.save_screenshot(path)
        # The README's pictures are refreshed on request, so an ordinary test run leaves the tree clean.
        if readme and os.environ.get("LOCKSTEP_UPDATE_SCREENSHOTS") == "1":
            os.makedirs(README_SCREENSHOTS, exist_ok=True)
            shutil.copyfile(path, os.path.join(README_SCREENSHOTS, name + ".png"))
        return path

    def new_console_entries(self):
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def assert_console_clean(self, allow=()):
        """No error in the browser console since the last look, except entries containing an `allow` text."""
        bad = [e for e in self.new_console_entries()
               if e["level"] in ("SEVERE", "ERROR") and not any(a in e["message"] for a in allow)]
        assert not bad, "browser console errors:\n" + "\n".join(e["message"] for e in bad)

    def assert_no_dialog(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError(f"a dialog opened: {text!r}")
        except NoAlertPresentException:
            pass

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def fetch(self, method, path, body=None, content_type="application/json", csrf=True):
        """A request from the page's own JavaScript context (same origin, the session cookie)."""
        return self.driver.execute_async_script("""
            const [method, path, body, type, csrf, done] = arguments;
            const headers = {};
            if (type) headers['Content-Type'] = type;
            if (csrf) headers['X-CSRF-Token'] = document.querySelector('meta[name="csrf-token"]').content;
            fetch(path, {method, headers, body, credentials: 'same-origin'})
              .then(r => r.text().then(t => done({status: r.status, body: t})))
              .catch(e => done({status: -1, body: String(e)}));
        """, method, path, body, content_type, csrf)

    def quit(self):
        self.driver.quit()


@pytest.fixture
def browser(stack):
    opened = []

    def open_browser(user=None, javascript=True, before_load=None):
        b = Browser(stack, javascript=javascript, before_load=before_load)
        opened.append(b)
        if user:
            b.login(user, stack.admin_password if user == "admin" else stack.users[user])
        return b

    yield open_browser
    for b in opened:
        b.quit()

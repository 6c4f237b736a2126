"""What each role is offered, and that the server refuses what is not offered."""

import json
import urllib.parse

from selenium.webdriver.common.by import By

from stack import wait_for

DAGS = ("recommender_training_pipeline", "noblestride_integration_pipeline")


def test_viewer_sees_both_dags_and_their_runs_but_no_trigger_and_a_forged_trigger_is_refused(stack, browser):
    b = browser("viewer1")
    b.get("/dags")
    for dag in DAGS:
        squares = b.js("""return Array.from(document.querySelectorAll('tr#dag-' + arguments[0] + ' a.sq'))
                          .map(a => [a.textContent, a.getAttribute('aria-label')])""", dag)
        assert squares, f"no run squares for {dag}"
        # Colour is not the only sign: each square has a glyph and names its state.
        assert all(glyph.strip() and label.endswith(("succeeded", "failed", "running", "queued")) for glyph, label in squares), squares
        assert "Active" in b.find(f"tr#dag-{dag}").text
    assert not b.find_all("a[href$='/trigger']"), "a viewer is offered a trigger"
    assert not b.find_all("form.pause-toggle"), "a viewer is offered the pause toggle"
    b.screenshot("dags-viewer")
    b.assert_console_clean()

    b.get("/dags/recommender_training_pipeline")
    assert b.find_all("table.grid a.cell.st-succeeded"), "the viewer's grid shows no finished task"
    assert not b.find_all("#trigger-button") and not b.find_all("a[href$='/trigger']")
    # Operate shows what a viewer may read (pools, health) and nothing else.
    tabs = [a.text for a in b.find_all("header nav a")]
    assert "Operate" in tabs
    b.get("/operate/pools")
    operate = [a.text for a in b.find_all("nav.subnav a")]
    assert operate == ["Pools", "Health"], operate
    b.assert_console_clean()

    # Forged from the page's own context, with the session's CSRF token: refused for the role.
    forged = b.fetch("POST", "/api/v1/dags/recommender_training_pipeline/runs", json.dumps({"conf": {}}))
    assert forged["status"] == 403, forged
    problem = json.loads(forged["body"])
    assert problem["type"] == "urn:lockstep:problem:role-required" and "viewer" in problem["detail"], problem
    # The UI's own form route refuses too, and so does opening the form.
    csrf = b.js("return document.querySelector('meta[name=\"csrf-token\"]').content")
    form = b.fetch("POST", "/dags/recommender_training_pipeline/trigger",
                   urllib.parse.urlencode({"csrf_token": csrf, "param.model_type": "x"}),
                   content_type="application/x-www-form-urlencoded", csrf=False)
    assert form["status"] == 403, form
    b.get("/dags/recommender_training_pipeline/trigger")
    assert "needs role `user`" in b.text()
    pause = b.fetch("PATCH", "/api/v1/dags/noblestride_integration_pipeline", json.dumps({"is_paused": True}))
    assert pause["status"] == 403, pause
    # The refusals themselves are the only console errors (Chromium logs each failed request).
    b.assert_console_clean(allow=("status of 403",))
    assert stack.api("GET", "/api/v1/dags/noblestride_integration_pipeline")["is_paused"] is False


def test_a_write_without_the_csrf_token_is_refused(stack, browser):
    b = browser("op1")
    b.get("/dags")
    no_token = b.fetch("POST", "/dags/noblestride_integration_pipeline/pause", "is_paused=true",
                       content_type="application/x-www-form-urlencoded", csrf=False)
    assert no_token["status"] == 403 and "CSRF" in no_token["body"], no_token
    wrong = b.fetch("POST", "/dags/noblestride_integration_pipeline/pause", "is_paused=true&csrf_token=forged",
                    content_type="application/x-www-form-urlencoded", csrf=False)
    assert wrong["status"] == 403, wrong
    b.assert_console_clean(allow=("status of 403",))
    assert stack.api("GET", "/api/v1/dags/noblestride_integration_pipeline")["is_paused"] is False


def test_without_a_session_every_page_sends_to_the_login_and_back(stack, browser):
    b = browser()
    b.get("/dags/recommender_training_pipeline/runs")
    assert "/login" in b.driver.current_url
    b.driver.find_element(By.ID, "username").send_keys("viewer1")
    b.driver.find_element(By.ID, "password").send_keys("not the password")
    b.find("form button[type=submit]").click()
    wait_for(lambda: "Wrong user name or password" in b.find("#login-error").text, "the login error")
    b.screenshot("login")
    b.driver.find_element(By.ID, "password").send_keys(stack.users["viewer1"])
    b.find("form button[type=submit]").click()
    wait_for(lambda: b.driver.current_url.endswith("/dags/recommender_training_pipeline/runs"), "the page asked for")
    assert b.find_all("#runs-table tbody tr a")
    # The failed login itself logged a 401 in the console.
    b.assert_console_clean(allow=("status of 401",))

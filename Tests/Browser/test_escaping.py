"""Strings from outside show as text: a conf holding a script, a task error and a DAG description
holding HTML run nothing and open no dialog; the CSP forbids inline script anyway."""

import urllib.parse
import urllib.request

from stack import wait_for

SCRIPT = "<script>alert(1)</script>"


def only_our_script(b):
    return b.js("return Array.from(document.scripts).map(s => s.getAttribute('src') || 'inline:' + s.textContent)")


def test_a_conf_holding_a_script_shows_as_text_and_runs_nothing(stack, browser):
    b = browser("op1")
    b.get("/dags/recommender_training_pipeline/trigger")
    field = b.find("#param-model_type")
    field.clear()
    field.send_keys(SCRIPT)
    b.find("#idempotency_key").send_keys("ui-script-conf")
    b.find("#trigger-submit").click()
    run_id = "recommender_training_pipeline~ui-script-conf"
    assert stack.wait_finished(run_id)["conf"] == {"model_type": SCRIPT}
    b.get("/runs/" + urllib.parse.quote(run_id, safe=""))
    assert SCRIPT in b.find("#run-conf").text
    scripts = only_our_script(b)
    assert len(scripts) == 1 and scripts[0].startswith("/ui/assets/lockstep.js"), scripts
    b.assert_no_dialog()
    # The runs table shows the conf too.
    b.get("/dags/recommender_training_pipeline/runs")
    assert SCRIPT in b.find("#runs-table").text
    b.assert_no_dialog()
    assert len(only_our_script(b)) == 1
    b.assert_console_clean()


def test_a_task_error_and_a_description_holding_html_show_as_text(stack, browser):
    run_id = stack.trigger("ui_escaping_check")
    run = stack.wait_finished(run_id, timeout=60)
    assert run["state"] == "failed"
    b = browser("viewer1")
    b.get("/runs/" + urllib.parse.quote(run_id, safe=""))
    row = b.find("tr#task-fails_with_html")
    assert "<img src=x onerror=alert(1)> went wrong" in row.text
    assert b.js("return document.querySelectorAll('main img, main [onerror]').length") == 0
    assert "<img src=x onerror=alert(1)>" in b.find("#run-failure").text
    b.assert_no_dialog()
    b.screenshot("run-html-error")
    b.get("/dags")
    assert "Shows <b>markup</b> as text <script>alert('description')</script>" in b.find("tr#dag-ui_escaping_check").text
    assert not b.find_all("tr#dag-ui_escaping_check b")
    assert len(only_our_script(b)) == 1
    b.assert_no_dialog()
    b.get("/runs/" + urllib.parse.quote(run_id, safe="") + "/events")
    assert "went wrong" in b.find("#history").get_attribute("textContent")
    b.assert_no_dialog()
    b.assert_console_clean()


def test_every_page_has_a_policy_that_forbids_inline_script(stack):
    with urllib.request.urlopen(stack.base + "/login") as r:
        policy = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
        assert r.headers["X-Frame-Options"] == "DENY"
        body = r.read().decode()
    # The page itself carries no inline script and no inline handler.
    assert "<script>" not in body and " onclick=" not in body and " onload=" not in body

"""An op at work: trigger from the form and watch the grid live, pause, redrive, replay and backfill."""

import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from stack import wait_for

TRAINING = "recommender_training_pipeline"
INTEGRATION = "noblestride_integration_pipeline"


def test_op_triggers_training_from_the_form_and_watches_the_grid_turn_to_success_without_reloading(stack, browser):
    b = browser("op1")
    b.get("/dags")
    b.find(f"tr#dag-{TRAINING} a[href$='/trigger']").click()
    # The form is generated from the DAG's params, its default filled in.
    field = wait_for(lambda: b.find_all("#param-model_type"), "the trigger form")[0]
    assert field.get_attribute("value") == "recommendation_model"
    b.find("#idempotency_key").send_keys("ui-live-grid")
    b.screenshot("trigger-form")
    b.find("#trigger-submit").click()
    run_id = f"{TRAINING}~ui-live-grid"
    wait_for(lambda: b.driver.current_url.split("?")[0].endswith(f"/dags/{TRAINING}"), "the grid after triggering")
    assert run_id in b.find(".notice.ok").text
    # A mark on this document: a reload would wipe it.
    b.js("window.__sameDocument = 'yes'")
    key = f"{run_id}|train_model"

    def cell_states():
        return b.js("""return Array.from(document.querySelectorAll('table.grid a.cell[data-key^="' + arguments[0] + '|"]'))
                       .map(a => a.dataset.state)""", run_id)

    wait_for(lambda: b.find_all(f'a.cell[data-key="{key}"]'), "the new run's column in the grid", timeout=30)
    wait_for(lambda: (s := cell_states()) and len(s) == 6 and all(x == "succeeded" for x in s),
             "every task of the new run to show succeeded", timeout=120, interval=0.2)
    assert b.js("return window.__sameDocument") == "yes", "the page reloaded"
    assert b.find("#live-status").text == "live"
    cell = b.find(f'a.cell[data-key="{key}"]')
    assert cell.text == "✓" and "succeeded" in cell.get_attribute("aria-label")
    b.screenshot("grid", readme=True)
    b.assert_console_clean()

    # Keyboard: focus a cell and move with the arrows.
    first = b.find(f'a.cell[data-key="{run_id}|check_fastapi_health"]')
    b.js("arguments[0].focus()", first)
    first.send_keys("\ue015")  # ArrowDown
    assert b.js("return document.activeElement.dataset.key") == f"{run_id}|extract_data"

    # The run page: tries, outputs, the Gantt chart, and train_model's output.
    cell.click()
    wait_for(lambda: "/runs/" in b.driver.current_url, "the run page")
    wait_for(lambda: "succeeded" in (t := b.find("tr#task-train_model").text) and "1 / 3" in t, "train_model's row")
    assert b.find_all("svg.gantt rect.fill-succeeded")
    b.click("tr#task-train_model details.output summary")
    # A live refresh may replace the row; what was opened stays open.
    wait_for(lambda: "model_version" in b.find("tr#task-train_model details.output[open] pre").text, "train_model's output")
    b.screenshot("run", readme=True)
    b.find("nav.subnav a[href$='/events']").click()
    wait_for(lambda: b.driver.current_url.endswith("/events") and b.find_all("details.event-group"), "the event history")
    texts = [" ".join(g.text.split()) for g in b.find_all("details.event-group")]
    assert any("train_model #1" in t and "succeeded" in t for t in texts), texts
    b.click("details.event-group summary")
    b.screenshot("events", readme=True)
    b.assert_console_clean()


def test_op_pauses_the_integration_dag_from_the_list(stack, browser):
    b = browser("op1")
    b.get("/dags")
    toggle = b.find(f"tr#dag-{INTEGRATION} form.pause-toggle button")
    assert toggle.get_attribute("aria-pressed") == "false" and "Active" in toggle.text
    toggle.click()
    try:
        wait_for(lambda: b.find(f"tr#dag-{INTEGRATION} form.pause-toggle button").get_attribute("aria-pressed") == "true",
                 "the toggle to show paused")
        wait_for(lambda: stack.api("GET", f"/api/v1/dags/{INTEGRATION}")["is_paused"], "the DAG to be paused in the store")
        # A live refresh (any run's event) renders from the store, and keeps showing it paused.
        run_id = stack.trigger("recommender_training_pipeline")
        stack.wait_finished(run_id)
        wait_for(lambda: b.find_all(f'a.sq[href$="{urllib.parse.quote(run_id, safe="")}"]'), "the list to refresh live")
        assert "Paused" in b.find(f"tr#dag-{INTEGRATION} form.pause-toggle button").text
        # The trigger button goes once the page knows it is paused.
        b.get("/dags")
        assert not b.find_all(f"tr#dag-{INTEGRATION} a[href$='/trigger']")
        audit = stack.api("GET", "/api/v1/audit?actor=op1")["entries"]
        assert any(e["type"] == "lockstep.ops.dag_paused" and e["target"] == INTEGRATION for e in audit), audit
        b.click(f"tr#dag-{INTEGRATION} form.pause-toggle button")
        wait_for(lambda: not stack.api("GET", f"/api/v1/dags/{INTEGRATION}")["is_paused"], "the DAG to be unpaused")
        b.assert_console_clean()
    finally:
        # Whatever failed above, the next tests find the DAG running.
        if stack.api("GET", f"/api/v1/dags/{INTEGRATION}")["is_paused"]:
            stack.api("PATCH", f"/api/v1/dags/{INTEGRATION}", {"is_paused": False})
            wait_for(lambda: not stack.api("GET", f"/api/v1/dags/{INTEGRATION}")["is_paused"], "the DAG to be unpaused")


def test_op_redrives_a_dead_letter(stack, browser):
    before = len(stack.api("GET", "/api/v1/deadletters")["deadletters"])
    stack.publish_junk_run_request()
    wait_for(lambda: len(stack.api("GET", "/api/v1/deadletters")["deadletters"]) > before, "the junk request to be dead-lettered")
    b = browser("op1")
    b.get("/operate/deadletters")
    letter = b.find_all("article.deadletter")[0]
    letter_id = letter.get_attribute("data-key")
    assert "unknown event type" in letter.find_element(By.CSS_SELECTOR, ".reason").text
    letter.find_element(By.CSS_SELECTOR, "details summary").click()
    assert "io.lockstep.test.published" in letter.text and "lockstep.runs.requests" in letter.text
    b.screenshot("deadletters")
    letter.find_element(By.CSS_SELECTOR, "button.redrive").click()
    wait_for(lambda: "published again" in b.find(".notice.ok").text, "the redrive notice")
    assert letter_id in b.find(".notice.ok").text
    audit = stack.api("GET", "/api/v1/audit?actor=op1")["entries"]
    assert any(e["type"] == "lockstep.ops.redrive" and e["target"] == letter_id for e in audit), audit
    # The record went back to its topic, and (still junk) was dead-lettered again.
    wait_for(lambda: len(stack.api("GET", "/api/v1/deadletters")["deadletters"]) > before + 1, "the redriven record to come back")
    b.assert_console_clean()


def test_replay_shows_the_dry_run_plan_and_publishes_only_on_confirm(stack, browser):
    b = browser("op1")
    first = stack.api("GET", f"/api/v1/runs?dag_id={INTEGRATION}&limit=1000")["dag_runs"]
    since = min(r["queued_at"] for r in first)
    b.get("/operate/replay")
    b.find("#from").send_keys(since)
    Select(b.find("#dag_id")).select_by_value(INTEGRATION)
    b.find("#replay-plan").click()
    plan = wait_for(lambda: b.find_all("#plan"), "the dry-run plan")[0]
    assert "Dry run" in plan.text and "Nothing has been published yet" in plan.text
    planned = len(plan.find_elements(By.CSS_SELECTOR, "tbody tr"))
    assert planned >= 1
    b.screenshot("replay-plan", readme=True)
    # Showing the plan published nothing.
    assert len(stack.api("GET", f"/api/v1/runs?dag_id={INTEGRATION}&limit=1000")["dag_runs"]) == len(first)
    b.find("#plan-publish").click()
    wait_for(lambda: "/operate/audit" in b.driver.current_url, "the audit trail after publishing")
    assert f"{planned} run request" in b.find(".notice.ok").text
    wait_for(lambda: len(stack.api("GET", f"/api/v1/runs?dag_id={INTEGRATION}&limit=1000")["dag_runs"]) == len(first) + planned,
             "the replayed runs")
    assert "replay" in b.find("#audit tbody tr").text
    b.screenshot("audit")
    b.assert_console_clean()


def test_backfill_shows_the_plan_and_nothing_is_published_until_confirmed(stack, browser):
    b = browser("op1")
    before = len(stack.api("GET", f"/api/v1/runs?dag_id={INTEGRATION}&limit=1000")["dag_runs"])
    b.get("/operate/backfill")
    Select(b.find("#dag_id")).select_by_value(INTEGRATION)
    b.find("#from").send_keys("2025-09-17T00:00:00Z")
    b.find("#to").send_keys("2025-09-17T12:00:00Z")
    b.find("#backfill-plan").click()
    plan = wait_for(lambda: b.find_all("#plan"), "the dry-run plan")[0]
    rows = plan.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == [
        f"{INTEGRATION}@2025-09-17T00:00:00Z", f"{INTEGRATION}@2025-09-17T06:00:00Z", f"{INTEGRATION}@2025-09-17T12:00:00Z"]
    b.screenshot("backfill-plan")
    assert len(stack.api("GET", f"/api/v1/runs?dag_id={INTEGRATION}&limit=1000")["dag_runs"]) == before
    b.find("#plan-publish").click()
    wait_for(lambda: "/runs" in b.driver.current_url and "3 run request" in b.find(".notice.ok").text, "the backfill notice")
    wait_for(lambda: stack.run(f"{INTEGRATION}@2025-09-17T12:00:00Z"), "the backfilled runs to be recorded")
    b.assert_console_clean()

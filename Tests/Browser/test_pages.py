"""Every page renders for the role it is for, with a clean console; readable with JavaScript off; the
live updates fall back to polling without EventSource; secrets never reach a page."""

import urllib.parse

from selenium.webdriver.common.by import By

from stack import wait_for

TRAINING = "recommender_training_pipeline"


def newest_run(stack, dag):
    return stack.api("GET", f"/api/v1/runs?dag_id={dag}&limit=1")["dag_runs"][0]["dag_run_id"]


def test_every_page_renders_with_a_clean_console(stack, browser):
    run = urllib.parse.quote(newest_run(stack, TRAINING), safe="")
    pages = [
        ("dags", "/dags", "DAGs"), ("dag-grid", f"/dags/{TRAINING}", "Grid"), ("dag-runs", f"/dags/{TRAINING}/runs", "Logical date"),
        ("dag-graph", f"/dags/{TRAINING}/graph", "Task graph"), ("dag-durations", f"/dags/{TRAINING}/durations", "Task duration"),
        ("dag-code", f"/dags/{TRAINING}/code", "max_active_runs: 1"), ("run-page", f"/runs/{run}", "Gantt"),
        ("run-events", f"/runs/{run}/events", "Event history"), ("runs", "/runs", "Every DAG's runs"),
        ("deadletters-page", "/operate/deadletters", "Dead letters"), ("replay", "/operate/replay", "Show the plan"),
        ("backfill", "/operate/backfill", "Show the plan"), ("pools", "/operate/pools", "ml_training_pool"),
        ("variables", "/operate/variables", "FASTAPI_BASE_URL"), ("connections", "/operate/connections", "noblestride_postgres"),
        ("audit-page", "/operate/audit", "Who did what"), ("health", "/operate/health", "Consumer lag"),
    ]
    b = browser("admin")
    for name, path, expect in pages:
        b.get(path)
        assert expect in b.text(), f"{path} lacks {expect!r}"
        b.screenshot(name, readme=name in ("dags", "dag-graph"))
        b.assert_console_clean()
        b.assert_no_dialog()
    # The graph is an SVG whose boxes say their state in words as well as colour.
    b.get(f"/dags/{TRAINING}/graph")
    labels = [a.get_attribute("aria-label") for a in b.find_all("svg.graph a")]
    assert len(labels) == 6 and all(label.endswith("succeeded") for label in labels), labels


def test_secrets_never_reach_a_page(stack, browser):
    b = browser("op1")
    for path in ("/operate/connections", "/operate/variables", "/operate/health", f"/runs/{urllib.parse.quote(newest_run(stack, TRAINING), safe='')}"):
        b.get(path)
        assert stack.pg_password not in b.driver.page_source, f"the PostgreSQL password is on {path}"
    b.get("/operate/connections")
    row = [r for r in b.find_all("#connections tbody tr") if "noblestride_postgres" in r.text][0]
    assert "yes, masked" in row.text and "environment LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES" in row.text
    b.assert_console_clean()


def test_readable_and_usable_with_javascript_off(stack, browser):
    b = browser(javascript=False)
    b.login("user1", stack.users["user1"])
    b.get("/dags")
    assert "recommender_training_pipeline" in b.text()
    # The pause toggle is a form that posts without script.
    b.find("tr#dag-noblestride_integration_pipeline form.pause-toggle button").click()
    wait_for(lambda: "paused" in b.find(".notice.ok").text, "the pause notice")
    assert "Paused" in b.find("tr#dag-noblestride_integration_pipeline form.pause-toggle button").text
    b.find("tr#dag-noblestride_integration_pipeline form.pause-toggle button").click()
    wait_for(lambda: "unpaused" in b.find(".notice.ok").text, "the unpause notice")
    # Trigger from the form and read the run.
    b.get(f"/dags/{TRAINING}/trigger")
    b.find("#idempotency_key").send_keys("ui-no-script")
    b.find("#trigger-submit").click()
    wait_for(lambda: "requested" in b.find(".notice.ok").text, "the trigger notice")
    stack.wait_finished(f"{TRAINING}~ui-no-script")
    b.find(".notice.ok a").click()
    wait_for(lambda: "succeeded" in b.find("tr#task-notify_training_complete").text, "the run page")
    b.screenshot("run-no-script")


def test_live_updates_fall_back_to_polling_without_event_source(stack, browser):
    b = browser(before_load="delete window.EventSource;")
    b.login("op1", stack.users["op1"])
    b.get(f"/dags/{TRAINING}")
    wait_for(lambda: b.find("#live-status").text == "polling every 5 s", "the page to poll")
    b.js("window.__sameDocument = 'yes'")
    run_id = stack.trigger(TRAINING, {"model_type": "polled"})
    wait_for(lambda: b.find_all(f'a.cell[data-key="{run_id}|notify_training_complete"][data-state="succeeded"]'),
             "the polled grid to show the run succeeded", timeout=120, interval=0.5)
    assert b.js("return window.__sameDocument") == "yes"
    b.assert_console_clean()


def test_a_user_may_trigger_and_pause_but_is_offered_no_operate_actions(stack, browser):
    b = browser("user1")
    b.get("/dags")
    assert b.find_all(f"tr#dag-{TRAINING} a[href$='/trigger']") and b.find_all("form.pause-toggle")
    b.get("/operate/pools")
    assert [a.text for a in b.find_all("nav.subnav a")] == ["Pools", "Health"]
    b.get("/operate/deadletters")
    assert "needs role `op`" in b.text()
    b.assert_console_clean(allow=("status of 403",))

"""A task attempt's log page: the tail first, older lines paged with the cursor, search on the server,
download, and following a running try without taking the scroll from a reader who scrolled up."""

import urllib.parse

from stack import wait_for

TRAINING = "recommender_training_pipeline"


def lines_shown(b):
    return b.js("return Array.from(document.querySelectorAll('#log-lines li')).map(li => Number(li.dataset.seq))")


def test_a_long_log_shows_its_tail_first_and_pages_older_lines_searches_and_downloads(stack, browser):
    run_id = stack.api("GET", f"/api/v1/runs?dag_id={TRAINING}&state=succeeded&limit=1")["dag_runs"][0]["dag_run_id"]
    lines = [(seq, "stdout", f"epoch {seq}: loss {1 / seq:.4f}" + (" needle" if seq % 100 == 0 else "")) for seq in range(1, 1201)]
    lines[41] = (42, "stderr", "<b>not bold</b> <script>alert('log')</script>")
    stack.write_log_lines(run_id, "train_model", 1, lines)
    b = browser("viewer1")
    b.get("/runs/" + urllib.parse.quote(run_id, safe=""))
    b.click("tr#task-train_model a.log-link")
    wait_for(lambda: "/tries/1/log" in b.driver.current_url, "train_model's log")
    assert lines_shown(b) == list(range(701, 1201)), "the tail first"
    assert b.js("return document.getElementById('log-box').scrollTop > 0"), "the box opens at the newest line"
    assert b.find("#log-status").text == "the try has ended"
    b.screenshot("log", readme=True)
    b.click("#log-older")
    wait_for(lambda: lines_shown(b) == list(range(201, 701)), "the next older page")
    b.click("#log-older")
    wait_for(lambda: lines_shown(b) == list(range(1, 201)), "the oldest page")
    assert not b.find_all("#log-older")
    assert "<b>not bold</b> <script>alert('log')</script>" in b.find("li#L42").text
    assert not b.find_all("#log-lines b") and b.js("return document.scripts.length") == 1
    b.assert_no_dialog()
    # Search runs on the server, over the whole log.
    b.find("#log-grep").send_keys("needle\n")
    wait_for(lambda: lines_shown(b) == list(range(100, 1201, 100)), "the matching lines")
    # Download: the whole log as text.
    url = b.find("#log-download").get_attribute("href")
    got = b.fetch("GET", urllib.parse.urlparse(url).path, csrf=False, content_type=None)
    assert got["status"] == 200 and got["body"].count("\n") == 1200 and "epoch 1200" in got["body"]
    b.assert_console_clean()


def test_following_a_running_try_appends_lines_and_leaves_a_reader_who_scrolled_up_where_they_were(stack, browser):
    run_id = stack.trigger("ui_log_follow")
    wait_for(lambda: (stack.run(run_id) or {}).get("task_instances", [{}])[0].get("state") == "running", "the sleep to run")
    b = browser("viewer1")
    b.get("/runs/" + urllib.parse.quote(run_id, safe="") + "/tasks/long_sleep/tries/1/log")
    assert b.find("#log-status").text == "following"
    stack.write_log_lines(run_id, "long_sleep", 1, [(seq, "operator", f"line {seq}") for seq in range(1, 81)])
    wait_for(lambda: lines_shown(b) == list(range(1, 81)), "the first lines, live")
    wait_for(lambda: b.js("const x = document.getElementById('log-box'); return x.scrollHeight - x.scrollTop - x.clientHeight < 8"),
             "the box to stay at the bottom while the reader is there")
    # The reader scrolls up; more lines come; the reader's place holds.
    b.js("document.getElementById('log-box').scrollTop = 0")
    stack.write_log_lines(run_id, "long_sleep", 1, [(seq, "operator", f"line {seq}") for seq in range(81, 91)])
    wait_for(lambda: lines_shown(b)[-1:] == [90], "the new lines")
    assert b.js("return document.getElementById('log-box').scrollTop") == 0
    assert "10 new lines below" in b.find("#log-new").text
    b.screenshot("log-follow")
    b.click("#log-new")
    assert b.js("const x = document.getElementById('log-box'); return x.scrollHeight - x.scrollTop - x.clientHeight < 8")
    stack.api("POST", "/api/v1/runs/" + urllib.parse.quote(run_id, safe="") + "/cancel", {})
    wait_for(lambda: b.find("#log-status").text == "the try has ended", "the follow to end with the try", timeout=60)
    b.assert_console_clean()

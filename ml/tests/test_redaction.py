from recommender.postgres import redact, redacted_uri


def test_uri_password_is_removed_everywhere():
    uri = "postgresql://u:S3cr%2Ft@db:5436/noblestride?password=Other&sslmode=require"
    assert redacted_uri(uri) == "postgresql://u@db:5436/noblestride?password=***&sslmode=require"
    message = f'failed for {uri}: token "S3cr%2Ft" / S3cr/t / Other'
    cleaned = redact(message, uri)
    assert "S3cr" not in cleaned and "Other" not in cleaned
    assert "db:5436" in cleaned


def test_keyword_dsn_password_is_removed_and_messages_are_one_line():
    dsn = "host=h port=1 password=Pw123 dbname=x"
    assert redact(f"cannot use {dsn}\n\tIs the server running?", dsn) == \
        "cannot use host=h port=1 password=*** dbname=x Is the server running?"

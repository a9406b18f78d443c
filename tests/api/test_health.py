"""Operations endpoints and the per-request log line."""

import json
import logging


def test_live_and_ready(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_ready_is_503_when_migrations_are_missing(client):
    with client.app.state.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old'")
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "migrations pending"


def test_metrics_count_requests_by_route(client):
    client.get("/rest/codelist/DSM/CL_SEX")
    client.get("/rest/codelist/DSM/CL_NOTHING")
    text = client.get("/metrics").text
    assert (
        'dsm_http_requests_total{method="GET",route="/rest/{resource}/{agencyID}/{resourceID}",status="200"} 1.0'
        in text
    )
    assert 'status="404"' in text
    assert "dsm_http_request_duration_seconds_bucket" in text


def test_one_structured_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="dsm.access"):
        response = client.get("/rest/codelist/DSM/CL_SEX", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dsm.access"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "abc-123"
    assert lines[0]["status"] == 200 and lines[0]["path"] == "/rest/codelist/DSM/CL_SEX"
    generated = client.get("/health/live").headers["x-request-id"]
    assert len(generated) == 32


def test_too_long_url_is_414(client):
    response = client.get("/rest/codelist/DSM/" + "A" * 9000)
    assert response.status_code == 414
    assert b"ErrorMessage" in response.content


def test_unknown_path_and_method_are_sdmx_errors(client):
    missing = client.get("/nothing/here")
    assert missing.status_code == 404 and b"ErrorMessage" in missing.content
    wrong = client.patch("/rest/codelist/DSM/CL_SEX")
    assert wrong.status_code == 405 and b"ErrorMessage" in wrong.content


def test_metrics_look_each_label_set_up_once(client, monkeypatch):
    """The labelled children are kept: `labels()` is called once per (method, route, status)."""
    metrics = client.app.state.metrics
    calls = []
    labels = metrics.requests.labels
    monkeypatch.setattr(metrics.requests, "labels", lambda *a: calls.append(a) or labels(*a))
    for _ in range(3):
        client.get("/health/live")
    assert calls == [("GET", "/health/live", "200")]
    text = client.get("/metrics").text
    assert 'dsm_http_requests_total{method="GET",route="/health/live",status="200"} 3.0' in text


def test_no_log_line_is_built_when_the_access_log_is_off(client, caplog, monkeypatch):
    dumped = []
    monkeypatch.setattr(json, "dumps", lambda *a, **k: dumped.append(a) or "{}")
    with caplog.at_level(logging.WARNING, logger="dsm.access"):
        assert client.get("/health/live").status_code == 200
    assert dumped == []


def test_the_last_request_id_header_is_the_one_kept(client):
    response = client.get(
        "/health/live", headers=[("x-request-id", "first"), ("x-request-id", "second")]
    )
    assert response.headers["x-request-id"] == "second"


def test_the_handler_thread_pool_has_the_configured_size(settings):
    """DSM_WORKER_THREADS sizes the pool sync handlers run in (AnyIO's default would be 40)."""
    from anyio import to_thread
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings.model_copy(update={"worker_threads": 3}))
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)
        assert client.get("/health/live").status_code == 200
    assert tokens == 3

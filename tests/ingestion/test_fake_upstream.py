"""The fake-upstream framework (tests/fakes/) does what the source tests rely on."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import requests

from tests.fakes import FakeApp, FakeServer, Faults, HTTPError, Response, numbered_page
from tests.fakes.records import RecordsUpstream


def echo_app() -> FakeApp:
    app = FakeApp("echo")

    @app.get("/repos/{owner}/{repo}")
    def get_repository(request):
        return {"owner": request.path_params["owner"], "repo": request.path_params["repo"]}

    @app.post("/items")
    def create_item(request):
        return 201, {"received": request.json()}

    @app.get("/numbers")
    def list_numbers(request):
        return numbered_page(request, list(range(1, 96)), default_per_page=30)

    @app.get("/crash")
    def crash(request):
        raise RuntimeError("bug in the fake")

    @app.get("/teapot")
    def teapot(request):
        raise HTTPError(418, "I'm a teapot")

    return app


def fake_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("fake-")]


# --- routing and responses -----------------------------------------------------------


def test_a_route_answers_json_on_a_free_loopback_port(fake_server):
    server = fake_server(echo_app())

    response = requests.get(f"{server.url}/repos/octo/hub", timeout=2)

    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    assert response.status_code == 200
    assert response.json() == {"owner": "octo", "repo": "hub"}


def test_path_parameters_arrive_percent_decoded(fake_server):
    server = fake_server(echo_app())

    response = requests.get(f"{server.url}/repos/my%20org/hub", timeout=2)

    assert response.json()["owner"] == "my org"


def test_a_handler_reads_the_json_body_and_chooses_the_status(fake_server):
    server = fake_server(echo_app())

    response = requests.post(f"{server.url}/items", json={"name": "x"}, timeout=2)

    assert response.status_code == 201
    assert response.json() == {"received": {"name": "x"}}


def test_an_unknown_path_is_404_and_a_wrong_method_is_405(fake_server):
    server = fake_server(echo_app())

    assert requests.get(f"{server.url}/nowhere", timeout=2).status_code == 404
    assert requests.delete(f"{server.url}/items", timeout=2).status_code == 405


def test_a_handler_raising_http_error_answers_that_status(fake_server):
    server = fake_server(echo_app())

    response = requests.get(f"{server.url}/teapot", timeout=2)

    assert response.status_code == 418
    assert response.json() == {"message": "I'm a teapot"}


def test_a_crashing_handler_answers_500_and_keeps_the_traceback():
    with FakeServer(echo_app()) as server:
        response = requests.get(f"{server.url}/crash", timeout=2)

    assert response.status_code == 500
    assert "bug in the fake" in server.handler_errors[0]


# --- recording ---------------------------------------------------------------------------


def test_every_request_is_recorded_with_its_query_and_headers(fake_server):
    server = fake_server(echo_app())

    requests.get(
        f"{server.url}/repos/octo/hub", params={"page": "2"}, headers={"X-Trace": "t1"}, timeout=2
    )

    [recorded] = server.requests
    assert (recorded.method, recorded.path, recorded.status) == ("GET", "/repos/octo/hub", 200)
    assert recorded.query == {"page": ["2"]}
    assert recorded.headers["X-Trace"] == "t1"


def test_requests_are_counted_per_path(fake_server):
    server = fake_server(echo_app())
    for _ in range(3):
        requests.get(f"{server.url}/repos/octo/hub", timeout=2)
    requests.get(f"{server.url}/nowhere", timeout=2)

    assert server.counts_by_path() == {"/repos/octo/hub": 3, "/nowhere": 1}
    assert server.request_count("/repos/octo/hub", method="GET") == 3


def test_concurrent_clients_are_all_served_and_recorded(fake_server):
    server = fake_server(echo_app())
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            for _ in range(25):
                status = session.get(f"{server.url}/repos/o/r", timeout=5).status_code
                with lock:  # an assert in a thread would only warn: check in the main one
                    statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 200
    assert server.request_count("/repos/o/r") == 200


# --- connections and lifecycle ---------------------------------------------------------


def test_a_session_keeps_its_connection_alive_across_requests(fake_server):
    server = fake_server(echo_app())

    with requests.Session() as session:
        for _ in range(5):
            session.get(f"{server.url}/repos/o/r", timeout=2)

    assert server.connections_opened == 1


def test_stop_closes_open_connections_joins_threads_and_frees_the_port():
    server = FakeServer(echo_app()).start()
    session = requests.Session()
    session.get(f"{server.url}/repos/o/r", timeout=2)  # leaves a keep-alive connection open

    server.stop()

    assert fake_threads() == []
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", server.port)),
    ):
        pass
    session.close()


def test_stop_does_not_wait_for_a_stalled_request():
    server = FakeServer(echo_app()).start()
    server.faults.set(stall_seconds=30)
    server.faults.next("stall")
    client_errors: list[Exception] = []

    def call() -> None:
        try:
            requests.get(f"{server.url}/repos/o/r", timeout=60)
        except requests.RequestException as error:
            client_errors.append(error)

    client = threading.Thread(target=call)
    client.start()
    server.wait_for_requests(1)

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 5
    client.join(timeout=5)
    assert len(client_errors) == 1  # the stalled client sees its connection closed


# --- faults, one kind at a time ----------------------------------------------------------


@pytest.mark.parametrize("kind, status", [("http_500", 500), ("http_502", 502), ("http_503", 503)])
def test_a_server_error_fault_answers_its_status(fake_server, kind, status):
    server = fake_server(echo_app())
    server.faults.next(kind)

    response = requests.get(f"{server.url}/repos/o/r", timeout=2)

    assert response.status_code == status


def test_a_rate_limit_fault_answers_429_with_retry_after_in_seconds(fake_server):
    server = fake_server(echo_app())
    server.faults.set(rate=1.0, kinds=["http_429"], retry_after=7)

    response = requests.get(f"{server.url}/repos/o/r", timeout=2)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_a_reset_fault_makes_the_client_see_connection_reset(fake_server):
    server = fake_server(echo_app())
    server.faults.next("reset")

    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(f"{server.url}/repos/o/r", timeout=2)

    assert "Connection reset by peer" in str(raised.value)


def test_a_stall_fault_outlasts_the_client_timeout(fake_server):
    server = fake_server(echo_app())
    server.faults.set(rate=1.0, kinds=["stall"], stall_seconds=1.0)

    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{server.url}/repos/o/r", timeout=0.2)


def test_a_truncated_body_fault_breaks_off_mid_body(fake_server):
    server = fake_server(echo_app())
    server.faults.next("truncate")

    with pytest.raises(requests.exceptions.ChunkedEncodingError) as raised:
        requests.get(f"{server.url}/repos/o/r", timeout=2)

    assert "IncompleteRead" in str(raised.value)


def test_the_connection_after_a_fault_works_again(fake_server):
    server = fake_server(echo_app())
    server.faults.next("reset")

    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError):
            session.get(f"{server.url}/repos/o/r", timeout=2)
        response = session.get(f"{server.url}/repos/o/r", timeout=2)

    assert response.status_code == 200


# --- fault plans ----------------------------------------------------------------------------


def decisions(faults: Faults, count: int) -> list[str | None]:
    return [str(fault.kind) if (fault := faults.decide("/x")) else None for _ in range(count)]


def test_faults_follow_the_seed_exactly():
    first, second = Faults(), Faults()
    first.set(rate=0.3, seed=42)
    second.set(rate=0.3, seed=42)

    assert decisions(first, 200) == decisions(second, 200)


def test_the_share_of_faulted_requests_follows_the_rate():
    faults = Faults()
    faults.set(rate=0.2, seed=5)

    faulted = sum(1 for decision in decisions(faults, 2000) if decision)

    assert 340 <= faulted <= 460


def test_a_limit_faults_only_the_first_requests():
    faults = Faults()
    faults.set(rate=1.0, kinds=["http_503"], limit=3)

    assert decisions(faults, 5) == ["http_503", "http_503", "http_503", None, None]


def test_a_path_pattern_confines_faults_to_matching_paths(fake_server):
    server = fake_server(echo_app())
    server.faults.set(rate=1.0, kinds=["http_503"], path=r"^/repos/")

    assert requests.get(f"{server.url}/numbers", timeout=2).status_code == 200
    assert requests.get(f"{server.url}/repos/o/r", timeout=2).status_code == 503


def test_injected_faults_end_with_the_with_block(fake_server):
    server = fake_server(echo_app())

    with server.faults.injected(rate=1.0, kinds=["http_500"]):
        inside = requests.get(f"{server.url}/repos/o/r", timeout=2).status_code
    after = requests.get(f"{server.url}/repos/o/r", timeout=2).status_code

    assert (inside, after) == (500, 200)


def test_injected_faults_are_counted_by_kind_and_marked_on_the_request(fake_server):
    server = fake_server(echo_app())
    server.faults.next("http_502", times=2)
    server.faults.next("reset")

    for _ in range(4):
        with contextlib.suppress(requests.ConnectionError):
            requests.get(f"{server.url}/repos/o/r", timeout=2)

    assert server.faults.counts == {"http_502": 2, "reset": 1}
    assert [recorded.fault for recorded in server.requests] == [
        "http_502",
        "http_502",
        "reset",
        None,
    ]


def test_an_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError):
        Faults().set(rate=0.5, kinds=["gremlins"])


# --- auth ---------------------------------------------------------------------------------


def token_app() -> FakeApp:
    app = FakeApp("secure", tokens={"s3cret"}, basic={("me@example.com", "api-token")})
    app.add_route("GET", "/me", lambda request: {"ok": True})
    app.add_route("GET", "/status", lambda request: {"up": True}, public=True)
    return app


def test_a_request_without_the_token_gets_401(fake_server):
    server = fake_server(token_app())

    assert requests.get(f"{server.url}/me", timeout=2).status_code == 401
    bad = {"Authorization": "Bearer wrong"}
    assert requests.get(f"{server.url}/me", headers=bad, timeout=2).status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "token"])
def test_a_request_with_the_token_is_served(fake_server, scheme):
    server = fake_server(token_app())

    headers = {"Authorization": f"{scheme} s3cret"}
    response = requests.get(f"{server.url}/me", headers=headers, timeout=2)

    assert response.status_code == 200


def test_basic_auth_with_email_and_api_token_is_served(fake_server):
    server = fake_server(token_app())

    response = requests.get(f"{server.url}/me", auth=("me@example.com", "api-token"), timeout=2)

    assert response.status_code == 200


def test_a_public_route_needs_no_token(fake_server):
    server = fake_server(token_app())

    assert requests.get(f"{server.url}/status", timeout=2).status_code == 200


# --- pagination -------------------------------------------------------------------------------


def test_link_headers_lead_a_client_through_every_page(fake_server):
    server = fake_server(echo_app())
    url, seen, pages = f"{server.url}/numbers?per_page=40", [], 0

    while url:
        response = requests.get(url, timeout=2)
        seen += response.json()
        pages += 1
        url = response.links.get("next", {}).get("url")

    assert seen == list(range(1, 96))
    assert pages == 3


def test_the_first_page_links_to_next_and_last(fake_server):
    server = fake_server(echo_app())

    response = requests.get(f"{server.url}/numbers", timeout=2)

    assert set(response.links) == {"next", "last"}
    assert "page=4" in response.links["last"]["url"]


def test_the_records_fake_pages_through_every_record_by_cursor(records_server):
    ids, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        body = requests.get(f"{records_server.url}/records", params=params, timeout=2).json()
        ids += [record["id"] for record in body["records"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert ids == list(range(1, 251))
    assert records_server.request_count("/records") == 3


def test_the_records_fake_refuses_a_forged_cursor(records_server):
    response = requests.get(f"{records_server.url}/records?cursor=bm9wZQ", timeout=2)

    assert response.status_code == 400


def test_the_records_fake_filters_by_updated_since(fake_server):
    upstream = RecordsUpstream(50, seed=1)
    upstream.update_record(3, name="renamed")
    server = fake_server(upstream.app)

    body = requests.get(
        f"{server.url}/records", params={"updated_since": "2024-01-01T00:51:00Z"}, timeout=2
    ).json()

    assert [record["id"] for record in body["records"]] == [3]
    assert body["records"][0]["name"] == "renamed"


def test_the_records_fake_is_the_same_for_the_same_seed():
    assert RecordsUpstream(100, seed=9).records == RecordsUpstream(100, seed=9).records
    assert RecordsUpstream(100, seed=9).records != RecordsUpstream(100, seed=10).records


# --- a fake in another process ------------------------------------------------------------


def test_a_fake_runs_in_a_child_process_driven_by_its_control_api():
    with FakeServer.start_in_subprocess(
        "tests.fakes.records:create_app", options={"count": 30}
    ) as server:
        first = requests.get(f"{server.url}/records", timeout=5)
        server.set_faults(rate=1.0, kinds=["http_503"])
        faulted = requests.get(f"{server.url}/records", timeout=5)
        stats = server.stats()
        process = server.process

    assert first.json()["records"][-1]["id"] == 30
    assert faulted.status_code == 503
    assert stats["requests"] == 2 and stats["faults"] == {"http_503": 1}
    assert process.returncode is not None


def test_a_response_object_can_carry_raw_bytes(fake_server):
    app = FakeApp("bytes")
    app.add_route("GET", "/blob", lambda request: Response(body=b"\x00\x01", headers={}))
    server = fake_server(app)

    assert requests.get(f"{server.url}/blob", timeout=2).content == b"\x00\x01"

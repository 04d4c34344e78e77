"""The public listener (社会端) over HTTP, with the real agent, Mosquitto and the reference
platform: staff URLs 404 there, invite codes, complaints with their receipts, surveys."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from agent.app import Agent
from agent.console.app import build_app as console_app
from agent.console.auth import add_user
from agent.core.tasks import TaskDesk
from agent.core.timeutil import ManualClock
from agent.ops.doctor.host import check_public
from agent.social import complaints
from agent.social.invites import InviteRefused, Invites
from agent.social.surveys import parse_questions
from agent.store import Store
from simulator.devices.cameras import MjpegServer, Script
from tests.conftest import make_config
from tests.fixtures_console import MANAGER, MORNING, PASSWORD, Kitchen, kitchen_fixture  # noqa: F401
from tests.fixtures_mqtt import wait_until
from tests.fixtures_public import Device, broker_fixture, platform_fixture, public_kitchen_fixture  # noqa: F401
from tests.fixtures_serial_stations import WANG, ZHANG

REPO = Path(__file__).resolve().parent.parent


def jpeg() -> bytes:
    image = np.full((120, 160, 3), (40, 160, 60), np.uint8)
    cv2.putText(image, "dish", (20, 70), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def staff_paths(kitchen: Kitchen) -> list[str]:
    """Every route of the staff console, its path parameters filled in."""
    app = console_app(kitchen.console.console)
    paths = []
    for route in app.routes:
        path = getattr(route, "path", "")
        paths.append(re.sub(r"\{[^}]+\}", "x1", path) or "/")
    paths += ["/static/console.css", "/manager/media/x1"]
    return sorted(set(paths))


def test_every_staff_url_answers_404_on_the_public_listener(public_kitchen):
    phone = Device(public_kitchen.public_url)
    paths = staff_paths(public_kitchen)
    assert "/manager/today" in paths and "/login" in paths and len(paths) > 20
    for path in paths:
        assert phone.get(path).status == 404, path
        assert phone.post(path, {"csrf": "x"}).status in (404, 405), path
    # and the console itself still has them
    assert Device(public_kitchen.url).get("/login").status == 200


def test_invite_codes_open_the_view_until_revoked(public_kitchen):
    kitchen = public_kitchen
    for n, (card, celsius) in enumerate(((ZHANG, 36.5), (WANG, 37.9)), 1):
        kitchen.check(card, celsius)
        wait_until(lambda n=n: len(list(kitchen.agent.store.iter_records(type_="staff_health_check"))) == n,
                   message=f"check {n}")
    invites = kitchen.console.console.invites
    code, invite = invites.issue("李家长", "parent", 30, "boss", MORNING)
    phone = Device(kitchen.public_url)
    form = phone.get("/public/enter")
    wrong = phone.post("/public/enter", {"csrf": form.csrf(), "code": "AAAAA-BBBBB-CCCCC-DDDDD"})
    assert wrong.status == 403 and "邀请码不正确" in wrong.body
    seen = phone.post("/public/enter", {"csrf": form.csrf(), "code": code.lower().replace("-", " ")})
    assert seen.status == 200 and seen.url.endswith("/public/view"), seen.body[:300]
    assert "番茄炒蛋" in seen.body and 'id="morning-rate"' in seen.body
    assert "已晨检 checked 2/" in seen.body
    for secret in ("王五", "张三", "37.9", "36.5", "李家长", "S003"):
        assert secret not in seen.body, secret
    sent = phone.post("/public/complain", {"csrf": form.csrf(), "category": "suggestion", "text": "希望公布每周食谱"})
    assert sent.status == 200
    [mine] = kitchen.agent.store.iter_records(type_="public_complaint")
    assert (mine["data"]["channel"], mine["data"]["invite_id"]) == ("representative", invite.id)
    assert "李家长" not in json.dumps(mine, ensure_ascii=False)  # the invite, never the name
    invites.revoke(invite.id, "boss", MORNING)
    again = phone.get("/public/view")
    assert again.status == 403 and "已被学校撤销" in again.body
    retry = phone.post("/public/enter", {"csrf": form.csrf(), "code": code})
    assert retry.status == 403 and "已被学校撤销" in retry.body
    counts = kitchen.agent.public.refusals.snapshot()
    assert counts["code_unknown"] == 1 and counts["code_revoked"] == 2


def test_a_complaint_with_a_photo_reaches_the_platform_and_its_receipt_follows_it(public_kitchen, platform):
    kitchen = public_kitchen
    phone = Device(kitchen.public_url)
    form = phone.get("/public/complain")
    sent = phone.post("/public/complain", {"csrf": form.csrf(), "category": "hygiene", "text": "餐盘有油渍"},
                      files={"photo": ("tray.jpg", "image/jpeg", jpeg())})
    assert sent.status == 200, sent.body[:500]
    receipt = re.search(r'id="receipt">([^<]+)<', sent.body).group(1)
    assert 'data-state="received"' in sent.body
    [record] = wait_until(lambda: platform.records(type="public_complaint"), message="complaint on the platform")
    assert record["data"]["text"] == "餐盘有油渍" and record["data"]["channel"] == "qr"
    assert receipt not in str(record) and len(record["media"]) == 1
    saved = complaints.respond(kitchen.agent.recorder, record["id"], "accepted", "已安排重新清洗消毒", "boss")
    assert saved.data.task_id
    state = phone.get(f"/public/receipt?code={receipt}")
    assert 'data-state="accepted"' in state.body and "已安排重新清洗消毒" in state.body
    TaskDesk(kitchen.agent.recorder).done(saved.data.task_id, "餐盘全部回收重洗", "boss")
    assert 'data-state="rectified"' in phone.get(f"/public/receipt?code={receipt}").body
    wait_until(lambda: platform.records(type="complaint_response"), message="the response on the platform")
    for bad, reason in (({"text": "<script>alert(1)</script>"}, "请不要输入网页代码"),):
        refused = phone.post("/public/complain", {"csrf": form.csrf(), "category": "other", **bad})
        assert refused.status == 400 and reason in refused.body
    not_image = phone.post("/public/complain", {"csrf": form.csrf(), "category": "other", "text": "x"},
                           files={"photo": ("a.jpg", "image/jpeg", b"\xff\xd8\xff not really")})
    assert not_image.status == 400 and "JPEG或PNG" in not_image.body


def test_fifty_devices_answer_once_each_and_the_summary_reaches_the_platform(public_kitchen, platform):
    kitchen = public_kitchen
    surveys = kitchen.console.console.surveys
    survey = surveys.define("2026秋季满意度", "2026秋", parse_questions("饭菜口味\n卫生\n?建议"), "boss", MORNING)
    phones = [Device(kitchen.public_url) for _ in range(50)]
    for n, phone in enumerate(phones):
        form = phone.get(f"/public/survey/{survey.id}")
        done = phone.post(f"/public/survey/{survey.id}", {"csrf": form.csrf(), "q1": str(n % 5 + 1), "q2": "4",
                                                           "q3": "多些蔬菜" if n % 10 == 0 else ""})
        assert done.status == 200 and "感谢" in done.body, done.body[:300]
    again = phones[7].post(f"/public/survey/{survey.id}", {"csrf": phones[7].get("/public/complain").csrf(), "q1": "1",
                                                            "q2": "1"})
    assert again.status == 409 and "已提交过" in again.body
    summary = surveys.summary(survey, with_text=False)
    assert summary.responses == 50 and summary.questions[0].counts == [10, 10, 10, 10, 10]
    assert summary.questions[1].mean == 4.0 and summary.questions[2].texts is None
    surveys.send_summary(kitchen.agent.recorder, survey, with_text=False)
    [sent] = wait_until(lambda: platform.records(type="survey_summary"), message="summary on the platform")
    assert sent["data"]["responses"] == 50 and "多些蔬菜" not in str(sent)


def test_a_representative_sees_the_public_cameras_stills_whole_and_no_other(tmp_path, broker):
    server = MjpegServer(Script.idle(600), fps=10, faces={})
    server.plug()
    other = MjpegServer(Script.idle(600), fps=10, faces={})
    other.plug()
    config = make_config(
        tmp_path, cameras=[{"id": "cam-1", "url": server.url, "analyse_fps": 1},
                           {"id": "cam-2", "url": other.url, "analyse_fps": 1}],
        vision={"site_dir": str(tmp_path / "site"), "enabled": True},
        public={"enabled": True, "port": 0, "public_cameras": ["cam-1"], "still_every_s": 3})
    agent = Agent(config)
    agent.start()
    try:
        assert agent.public.server is not None and agent.public.server.started.wait(10)
        wait_until(lambda: agent.cameras()["cam-1"].latest() is not None, timeout=30, message="a frame")
        phone = Device(f"http://127.0.0.1:{agent.public.server.port}")
        assert phone.get("/public/camera/cam-1.jpg").status == 404  # no invite: nothing
        invites = Invites(agent.store)
        code, _ = invites.issue("王委员", "social", 7, "boss", agent.now())
        form = phone.get("/public/enter")
        assert phone.post("/public/enter", {"csrf": form.csrf(), "code": code}).status == 200
        page = phone.get("/public/cameras")
        assert page.status == 200 and 'http-equiv="refresh" content="3"' in page.body
        assert "/public/camera/cam-1.jpg" in page.body and "cam-2" not in page.body
        with phone.opener.open(phone.base + "/public/camera/cam-1.jpg", timeout=10) as answer:
            assert answer.headers["Content-Type"] == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == server.scene.background.shape  # the whole frame, never a crop
        assert phone.get("/public/camera/cam-2.jpg").status == 404  # not marked public
    finally:
        agent.stop()
        server.unplug()
        other.unplug()


def test_floods_big_photos_and_script_are_refused_and_counted_on_the_installers_page(tmp_path, broker, platform):
    kitchen = Kitchen(tmp_path, broker.port, public_config={
        "enabled": True, "port": 0, "complaints_per_address": 3, "upload_max_kb": 64, "code_attempts": 3})
    try:
        guesser = Device(kitchen.public_url)
        code, _ = kitchen.console.console.invites.issue("李家长", "parent", 30, "boss", MORNING)
        token = guesser.get("/public/enter").csrf()
        for n in range(3):
            assert guesser.post("/public/enter", {"csrf": token, "code": f"GUESS-{n}"}).status == 403
        blocked = guesser.post("/public/enter", {"csrf": token, "code": code})  # even the right one, for now
        assert blocked.status == 429 and "尝试次数过多" in blocked.body
        phone = Device(kitchen.public_url)
        token = phone.get("/public/complain").csrf()
        big = phone.post("/public/complain", {"csrf": token, "category": "other", "text": "x"},
                         files={"photo": ("big.jpg", "image/jpeg", b"\xff\xd8\xff" + b"\0" * 200_000)})
        assert big.status == 413 and "照片太大" in big.body
        script = phone.post("/public/complain", {"csrf": token, "category": "other",
                                                 "text": '<img src=x onerror="alert(1)">'})
        assert script.status == 400 and "网页代码" in script.body
        assert '<img src=x onerror' not in script.body and "&lt;img src=x" in script.body  # echoed as text only
        ok = phone.post("/public/complain", {"csrf": token, "category": "service", "text": "打饭太慢"})
        assert ok.status == 200
        flood = phone.post("/public/complain", {"csrf": token, "category": "service", "text": "again"})
        assert flood.status == 429 and "提交过于频繁" in flood.body
        forged = Device(kitchen.public_url).post("/public/complain", {"csrf": token, "category": "other",
                                                                       "text": "from elsewhere"})
        assert forged.status in (403, 429)
        assert [r["data"]["text"] for r in kitchen.agent.store.iter_records(type_="public_complaint")] == ["打饭太慢"]

        staff = Device(kitchen.url)
        login = staff.get("/login")
        staff.post("/login", {"csrf": login.csrf(), "name": MANAGER, "password": PASSWORD})
        devices = staff.get("/installer/devices")
        assert devices.status == 200 and 'id="public-refusals"' in devices.body
        for words in ("照片过大", "文本含网页代码", "同一地址投诉过多", "邀请码错误", "邀请码尝试过多"):
            assert words in devices.body, words
        # the installer sees the counts, never the complaints, the surveys or the invitees' names
        add_user(kitchen.agent.store, "fitter", "installer", "fitter-secret-1", MORNING)
        fitter = Device(kitchen.url)
        fitter.post("/login", {"csrf": fitter.get("/login").csrf(), "name": "fitter", "password": "fitter-secret-1"})
        assert "同一地址投诉过多" in fitter.get("/installer/devices").body
        for path in ("/manager/complaints", "/manager/surveys", "/manager/invites"):
            answer = fitter.get(path)
            assert answer.status == 403 and "打饭太慢" not in answer.body, path
    finally:
        kitchen.close()


def test_a_public_camera_must_be_an_analysed_camera(tmp_path):
    with pytest.raises(ValidationError, match="public.public_cameras: 'cam-9' is not a declared camera"):
        make_config(tmp_path, public={"enabled": True, "public_cameras": ["cam-9"]})


def test_the_public_listener_serves_its_own_tls_with_hsts_and_secure_cookies(tmp_path, broker, platform):
    pki = tmp_path / "pki"
    subprocess.run(["bash", str(REPO / "config/certs/make-test-certs.sh"), "-c", "127.0.0.1", str(pki)],
                   check=True, capture_output=True)
    kitchen = Kitchen(tmp_path, broker.port, public_config={
        "enabled": True, "port": 0, "tls_cert_file": str(pki / "console.crt"),
        "tls_key_file": str(pki / "console.key")})
    try:
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", kitchen.agent.public.server.port, context=context,
                                           timeout=10)
        conn.request("GET", "/public/complain")
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200 and answer.getheader("Strict-Transport-Security") == "max-age=31536000"
        cookie = answer.getheader("Set-Cookie") or ""
        assert "canteen_device=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "Path=/public" in cookie
        assert "script-src" not in (answer.getheader("Content-Security-Policy") or "")  # default-src 'none'
        conn.request("GET", "/manager/today")
        missing = conn.getresponse()
        missing.read()
        assert missing.status == 404
    finally:
        kitchen.close()


def test_an_invite_code_ends_at_its_date_and_codes_are_kept_only_as_digests(tmp_path):
    clock = ManualClock(MORNING)
    with Store(tmp_path / "a.db") as store:
        invites = Invites(store)
        code, invite = invites.issue("李家长", "parent", 2, "boss", clock())
        assert len(code.replace("-", "")) == 20 and code not in json.dumps([store.kv_get(k) for k in
                                                                          store.kv_keys("public.")])
        assert invites.check(code.lower(), clock()).id == invite.id
        clock.advance(2 * 86400)
        with pytest.raises(InviteRefused) as refused:
            invites.check(code, clock())
        assert refused.value.reason == "code_expired"
        with pytest.raises(InviteRefused) as unknown:
            invites.check("22222-22222-22222-22222", clock())
        assert unknown.value.reason == "code_unknown"
        for bad in (("", "parent", 30), ("x" * 65, "parent", 30), ("王", "teacher", 30), ("王", "parent", 0)):
            with pytest.raises(ValueError):
                invites.issue(*bad, "boss", clock())


def test_a_public_port_held_by_another_program_stops_nothing_else_and_the_doctor_names_it(tmp_path, broker,
                                                                                          platform):
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    kitchen = Kitchen(tmp_path, broker.port, public_config={"enabled": True, "port": port}, wait_public=False)
    try:
        wait_until(lambda: kitchen.agent.component_states().get("public") not in (None, "running", "starting"),
                   message="the public listener down")
        assert Device(kitchen.url).get("/login").status == 200  # the console serves on
        kitchen.check(ZHANG, 36.5)  # and the station records
        wait_until(lambda: list(kitchen.agent.store.iter_records(type_="staff_health_check")), message="a check")
        [check] = check_public(kitchen.agent.config, beside=False)
        assert not check.ok and f"127.0.0.1:{port}" in check.detail and "public.port" in check.fix
    finally:
        kitchen.close()
        holder.close()


def test_the_public_process_killed_stops_nothing_else_is_started_again_and_shown_to_the_installer(tmp_path, broker,
                                                                                                 platform):
    kitchen = Kitchen(tmp_path, broker.port, public_config={"enabled": True, "port": 0})
    try:
        server = kitchen.agent.public.server
        first = server.pid
        assert first != os.getpid() and Device(kitchen.public_url).get("/public/").status == 200
        os.kill(first, signal.SIGKILL)  # the public side crashes (or is killed by the kernel for its memory)
        kitchen.check(ZHANG, 36.5)  # the station records meanwhile
        wait_until(lambda: list(kitchen.agent.store.iter_records(type_="staff_health_check")), message="a check")
        wait_until(lambda: server.pid != first and server.started.is_set(), timeout=30,
                   message="the public process started again")
        assert Device(kitchen.public_url).get("/public/complain").status == 200  # same port, a new process
        assert Device(kitchen.url).get("/login").status == 200  # the console served on
        staff = Device(kitchen.url)
        staff.post("/login", {"csrf": staff.get("/login").csrf(), "name": MANAGER, "password": PASSWORD})
        devices = staff.get("/installer/devices")
        assert 'id="public-process" data-state="running"' in devices.body
        assert "社会端进程" in devices.body and "重新启动次数 restarts</span>: 1" in devices.body.replace(
            '<span class="zh">重新启动次数</span> <span class="en">', "重新启动次数 ")
        assert "上次被终止（信号 9）" in devices.body and "last run killed (signal 9)" in devices.body
    finally:
        kitchen.close()


def test_the_public_process_reads_the_store_and_cannot_write_it(tmp_path):
    from agent.store.reader import ReadOnly, StoreReader

    with Store(tmp_path / "a.db") as store:
        store.kv_set("public.x", {"a": 1})
        reader = StoreReader(tmp_path / "a.db")
        try:
            assert reader.kv_get("public.x") == {"a": 1}
            with pytest.raises(ReadOnly):
                reader.kv_set("public.y", 1)
            with pytest.raises(ReadOnly):
                reader.kv_set_if_absent("public.y", 1)
            store.kv_set("public.x", {"a": 2})  # the agent writes on: the reader sees it
            assert reader.kv_get("public.x") == {"a": 2}
        finally:
            reader.close()

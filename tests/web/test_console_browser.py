"""The staff console in a real browser: Playwright driving Debian's Chromium against `peerguard web`.

Chromium comes from the Debian package (`scripts/dev setup` installs it); Playwright's own
browser downloads are never used. If Chromium is missing or cannot start, these tests fail and
say so: they are never skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.db import make_engine
from storage.models import AuditEntry
from tests.web.conftest import cli

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"  # axe-core 4.14.1 from npm, see its README.md
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery staple"
STAFF = {"mo@peermetals.com": "moderator", "max@peermetals.com": "moderator", "dee@peermetals.com": "disputes",
         "ada@peermetals.com": "admin"}


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        pytest.fail(f"the playwright package is missing ({exc}); run `scripts/dev setup`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (`scripts/dev setup` does)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - reported, never skipped
            pytest.fail(f"Chromium at {CHROMIUM} did not start under Playwright: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(web_env, server, tmp_path_factory) -> dict:
    """A small marketplace with flagged messages, scanned; four staff members with passwords."""
    folder = tmp_path_factory.mktemp("console-data")
    lines = [{"type": "user", "id": f"u-{n}", "name": f"User {n}", "email": f"user{n}@example.com"} for n in range(1, 9)]
    bodies = ["call me at 512 555 01{:02d} and we skip the fees", "zelle me at 512 555 02{:02d} instead",
              "text me on 415 555 03{:02d}", "pay by venmo @goldbug{:02d}"]
    for n in range(1, 7):
        conversation = f"c-web-{n}"
        lines.append({"type": "conversation", "id": conversation, "buyer": f"u-{n}", "seller": f"u-{n + 1}",
                      "subject": f"1 oz Gold Eagle #{n}", "order": f"o-web-{n}"})
        lines.append({"type": "message", "id": f"m-web-{n}-1", "conversation": conversation, "sender": f"u-{n}",
                      "sent_at": f"2026-12-01T10:0{n}:00Z", "text": "Is the coin still available?"})
        lines.append({"type": "message", "id": f"m-web-{n}-2", "conversation": conversation, "sender": f"u-{n + 1}",
                      "sent_at": f"2026-12-01T11:0{n}:00Z", "text": bodies[n % len(bodies)].format(n)})
    path = folder / "market.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    imported = cli(web_env, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    ran = cli(web_env, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    for email, role in STAFF.items():
        added = cli(web_env, "staff", "add", email, "--role", role, "--password-stdin", input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return {"base": server}


def _sign_in(browser, base: str, email: str, **options):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base, accept_downloads=True, **options)
    page = context.new_page()
    page.goto("/staff/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return context, page


def _audit(web_env, action: str) -> list[AuditEntry]:
    engine = make_engine(web_env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
    finally:
        engine.dispose()


def _review_status(web_env, item: int) -> str:
    shown = cli(web_env, "review", "show", str(item), "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["item"]["status"]


def test_a_moderator_claims_next_reveals_and_confirms_with_the_keyboard(browser, console, web_env, tmp_path):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, console["base"], "mo@peermetals.com")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_text("n claim next")).to_be_visible()  # the shortcut hints
    page.get_by_role("button", name="Claim next").click()
    expect(page).to_have_url(re.compile(r"/staff/review/\d+$"))
    item = int(page.url.rsplit("/", 1)[1])
    flagged = page.locator("li.message.flagged")
    expect(flagged.locator("mark").first).to_contain_text("•••")  # masked by default
    expect(flagged).not_to_contain_text("555")
    expect(page.get_by_text("Claimed by")).to_be_visible()
    page.screenshot(path=str(tmp_path / "item-masked.png"), full_page=True)

    page.get_by_role("button", name="Reveal flagged text").click()
    expect(flagged.first).to_contain_text("555")
    expect(page.get_by_text("c confirm")).to_be_visible()
    page.screenshot(path=str(tmp_path / "item-revealed.png"), full_page=True)
    assert [row.subject for row in _audit(web_env, "reveal")][-1] == f"item {item}"

    page.keyboard.press("c")
    expect(page.get_by_role("status").filter(has_text=f"Item {item} confirmed.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "queue-after-confirm.png"), full_page=True)
    assert _review_status(web_env, item) == "confirmed"
    assert [(row.actor, row.subject) for row in _audit(web_env, "resolve")][-1] == ("mo@peermetals.com", f"item {item}")
    context.close()


def test_two_moderators_claiming_at_once_never_get_the_same_item(browser, console, tmp_path):
    from playwright.sync_api import expect

    first_context, first = _sign_in(browser, console["base"], "mo@peermetals.com")
    second_context, second = _sign_in(browser, console["base"], "max@peermetals.com")
    seen: list[str] = []
    for _ in range(2):
        for page in (first, second):
            page.goto("/staff/queue")
        # Both forms are submitted before either answer arrives.
        first.evaluate("document.getElementById('claim-next').requestSubmit()")
        second.keyboard.press("n")
        for name, page in (("first", first), ("second", second)):
            expect(page).to_have_url(re.compile(r"/staff/review/\d+$"))
            page.screenshot(path=str(tmp_path / f"{name}-{len(seen)}.png"))
            seen.append(page.url.rsplit("/", 1)[1])
    assert len(seen) == len(set(seen)) == 4, seen
    first_context.close()
    second_context.close()


def test_j_k_and_enter_move_through_the_queue_and_open_an_item(browser, console, tmp_path):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, console["base"], "max@peermetals.com")
    rows = page.locator("tr[data-href]")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.first).to_have_class(re.compile(r"\bselected\b"))
    expect(rows.nth(1)).not_to_have_class(re.compile(r"\bselected\b"))
    page.screenshot(path=str(tmp_path / "queue-selected.png"))
    target = rows.first.get_attribute("data-href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    context.close()


def test_a_dispute_handler_finds_a_conversation_by_order_and_downloads_its_transcript(browser, console, web_env, tmp_path):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, console["base"], "dee@peermetals.com")
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    page.get_by_role("searchbox").fill("o-web-3")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="c-web-3").click()
    expect(page.get_by_role("heading", name="Conversation c-web-3")).to_be_visible()
    page.get_by_role("button", name="Request transcript").click()
    expect(page.get_by_role("status")).to_contain_text("pending")
    expect(page.get_by_role("progressbar")).to_be_visible()
    page.screenshot(path=str(tmp_path / "transcript-pending.png"))

    rendered = cli(web_env, "run", "--once")  # the render a worker would do
    assert rendered.returncode == 0, rendered.stderr
    download_link = page.get_by_role("link", name="Download PDF")
    expect(download_link).to_be_visible(timeout=20_000)  # the page polls until the PDF is ready
    expect(page.get_by_role("status")).to_contain_text("done")
    expect(page.get_by_role("progressbar")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "transcript-done.png"))
    with page.expect_download() as started:
        download_link.click()
    pdf = Path(started.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    entry = _audit(web_env, "transcript_download")[-1]
    assert (entry.actor, entry.subject) == ("dee@peermetals.com", "conversation c-web-3")
    assert entry.sha256 == hashlib.sha256(pdf).hexdigest()
    context.close()


def test_a_moderator_gets_403_on_admin_pages_and_a_post_without_csrf_token_is_refused(browser, console, tmp_path):
    from playwright.sync_api import expect

    context, page = _sign_in(browser, console["base"], "max@peermetals.com")
    for path in ("/staff/audit", "/staff/admin/staff", "/staff/conversations"):
        response = page.goto(path)
        assert response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    page.screenshot(path=str(tmp_path / "forbidden.png"))
    headers = page.goto("/staff/queue").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"

    # The browser context's cookies go along; only the CSRF token is missing or wrong.
    for form in ({}, {"csrf_token": "forged"}):
        refused = context.request.post("/staff/queue/claim-next", form=form, max_redirects=0)
        assert refused.status == 403, refused.text()
    context.close()

    admin_context, admin = _sign_in(browser, console["base"], "ada@peermetals.com")
    admin.goto("/staff/audit")
    expect(admin.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(admin.get_by_role("cell", name="sign_in", exact=True).first).to_be_visible()
    admin.screenshot(path=str(tmp_path / "audit.png"), full_page=True)
    admin_context.close()


def test_a_moderator_confirms_all_pending_items_of_one_sender_in_one_conversation(browser, console, web_env, tmp_path):
    from playwright.sync_api import expect

    # A fresh conversation (nobody has claimed its items): the seller flags twice, separately.
    lines = [{"type": "user", "id": "u-bulk-1", "name": "Bulk buyer", "email": "bulk1@example.com"},
             {"type": "user", "id": "u-bulk-2", "name": "Bulk seller", "email": "bulk2@example.com"},
             {"type": "conversation", "id": "c-web-bulk", "buyer": "u-bulk-1", "seller": "u-bulk-2", "subject": "10 oz bar"}]
    texts = [("u-bulk-2", "call me at 512 555 0601"), ("u-bulk-1", "Is shipping insured?"),
             ("u-bulk-2", "or pay by zelle to 512 555 0602")]
    for n, (sender, text) in enumerate(texts, start=1):
        lines.append({"type": "message", "id": f"m-bulk-{n}", "conversation": "c-web-bulk", "sender": sender,
                      "sent_at": f"2026-12-02T10:0{n}:00Z", "text": text})
    path = tmp_path / "bulk.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert cli(web_env, "import", str(path)).returncode == 0
    assert cli(web_env, "run", "--once").returncode == 0

    context, page = _sign_in(browser, console["base"], "mo@peermetals.com")
    page.goto("/staff/users/u-bulk-2")
    links = page.get_by_role("region", name="Recent flags").get_by_role("link")
    items = sorted(int(name.lstrip("#")) for name in links.all_inner_texts())
    assert len(items) == 2, items
    page.goto(f"/staff/review/{items[0]}")
    bulk = page.get_by_role("button", name="Confirm all 2 items")
    expect(bulk).to_be_visible()
    page.screenshot(path=str(tmp_path / "item-bulk.png"), full_page=True)
    page.get_by_label("Reason for all").select_option("Phone number shared")
    bulk.click()
    expect(page.get_by_role("status").filter(has_text=f"Items {items[0]}, {items[1]} confirmed.")).to_be_visible()
    assert [_review_status(web_env, item) for item in items] == ["confirmed", "confirmed"]
    entries = [e for e in _audit(web_env, "resolve") if e.subject in {f"item {i}" for i in items}]
    assert len(entries) == 2 and all(e.detail["bulk"] == items and e.actor == "mo@peermetals.com" for e in entries)
    context.close()


def _serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the current page."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert results["testEngine"] == {"name": "axe-core", "version": "4.14.1"} and results["passes"], "axe did not run"
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["html"][:160] for n in v["nodes"][:5]]}
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_axe_core_finds_no_serious_violation_on_the_queue_item_and_dashboard_pages(browser, console, tmp_path):
    from playwright.sync_api import expect

    # axe arrives as an inline script tag, which the console's CSP rightly refuses: this one
    # test context bypasses the CSP (the app's headers stay as they are).
    context, page = _sign_in(browser, console["base"], "ada@peermetals.com", bypass_csp=True)
    found = {}
    page.goto("/staff/queue?status=pending")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.screenshot(path=str(tmp_path / "a11y-queue.png"), full_page=True)
    found["queue"] = _serious_violations(page)
    page.get_by_role("table").get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    expect(page.get_by_role("button", name="Confirm", exact=True)).to_be_visible()
    page.screenshot(path=str(tmp_path / "a11y-item.png"), full_page=True)
    found["item"] = _serious_violations(page)
    page.get_by_role("button", name="Reveal flagged text").click()
    expect(page.get_by_text("Flagged text revealed")).to_be_visible()
    page.screenshot(path=str(tmp_path / "a11y-item-revealed.png"), full_page=True)
    found["item (revealed)"] = _serious_violations(page)
    page.goto("/staff/dashboards")
    expect(page.get_by_role("heading", name="Dashboards")).to_be_visible()
    page.screenshot(path=str(tmp_path / "a11y-dashboards.png"), full_page=True)
    found["dashboards"] = _serious_violations(page)
    context.close()
    assert found == {name: [] for name in found}, json.dumps(found, indent=1)


def test_dashboards_draw_precision_queue_and_response_charts_with_text_alternatives(browser, console, web_env, tmp_path):
    from playwright.sync_api import expect

    # One more decision (a dismissal by the admin, who holds no claim), so some detector is judged.
    pending = [json.loads(line) for line in cli(web_env, "review", "list", "--json").stdout.splitlines()]
    unclaimed = [entry for entry in pending if not entry["claimed_by"]]
    decided = cli(web_env, "review", "resolve", str(unclaimed[-1]["id"]), "--outcome", "dismissed", "--by", "ada@peermetals.com")
    assert decided.returncode == 0, decided.stderr
    context, page = _sign_in(browser, console["base"], "dee@peermetals.com")  # dispute handlers see them too
    page.get_by_role("link", name="Dashboards").click()
    expect(page.get_by_role("heading", name="Dashboards")).to_be_visible()
    precision = page.get_by_role("img", name="Detector precision with 95% intervals")
    expect(precision).to_be_visible()
    expect(page.get_by_role("img", name="Pending items by kind")).to_be_visible()
    expect(page.get_by_role("img", name="Pending items by age")).to_be_visible()
    # One point and one whisker bar per judged detector; the table says the same numbers.
    stats = [json.loads(line) for line in cli(web_env, "stats", "detectors", "--json").stdout.splitlines()]
    judged = [row for row in stats if row["precision"] is not None]
    assert judged and precision.locator("circle.point").count() == len(judged)
    table = page.get_by_role("table", name="Detector precision (the chart's numbers)")
    for row in judged:
        expect(table).to_contain_text(f"{100 * row['precision']:.1f}%")
    queue_rows = page.get_by_role("table", name="Pending items by kind (the chart's numbers)").locator("tbody tr")
    pending = [json.loads(line) for line in cli(web_env, "review", "list", "--json", "--limit", "1000").stdout.splitlines()]
    assert pending and queue_rows.count() == len({entry["kind"] for entry in pending})
    page.screenshot(path=str(tmp_path / "dashboards.png"), full_page=True)
    context.close()


def test_photos_show_inline_as_prepared_jpegs_behind_the_moderator_role(browser, console, web_env, tmp_path):
    import io

    from playwright.sync_api import expect

    hostile = '"><img src=x onerror="window.pwned=1">.jpg'
    from tests.attachments import files

    # A note in the photo: the attachment scan reads the number, and the item page outlines it.
    buffer = io.BytesIO(files.text_image(["Maple Leaf 2024", "or call 602 555 0148"], size=(1800, 1200)))
    (tmp_path / "coin.jpg").write_bytes(buffer.getvalue())
    lines = [{"type": "user", "id": "u-photo-1", "name": "Photo buyer", "email": "photo1@example.com"},
             {"type": "user", "id": "u-photo-2", "name": "Photo seller", "email": "photo2@example.com"},
             {"type": "conversation", "id": "c-web-photo", "buyer": "u-photo-1", "seller": "u-photo-2", "subject": "Maple"},
             {"type": "message", "id": "m-photo-1", "conversation": "c-web-photo", "sender": "u-photo-2",
              "sent_at": "2026-12-02T12:00:00Z", "text": "here it is, text me on 512 555 0700",
              "attachments": [{"path": "coin.jpg", "name": hostile}]}]
    (tmp_path / "photo.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    imported = cli(web_env, "import", str(tmp_path / "photo.jsonl"))
    assert imported.returncode == 0, imported.stderr
    assert cli(web_env, "run", "--once").returncode == 0

    context, page = _sign_in(browser, console["base"], "max@peermetals.com")
    page.goto("/staff/users/u-photo-2")
    page.get_by_role("region", name="Recent flags").get_by_role("link").first.click()
    photo = page.get_by_role("img", name=re.compile(r"^Photo 1 of message m-photo-1"))
    expect(photo).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [480, 320]
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0
    expect(page.locator("figcaption")).to_contain_text("onerror")  # the name is shown as text, inert
    region = page.locator("svg.regions rect.region[data-kind=phone]")
    expect(page.get_by_role("img", name=re.compile("Outlined where contact details were read: .*phone"))).to_be_visible()
    shown, outlined = photo.bounding_box(), region.bounding_box()
    assert outlined["width"] > 20 and outlined["height"] > 2  # drawn, at the photo's displayed scale
    assert shown["x"] <= outlined["x"] and outlined["x"] + outlined["width"] <= shown["x"] + shown["width"] + 1
    assert shown["y"] <= outlined["y"] and outlined["y"] + outlined["height"] <= shown["y"] + shown["height"] + 1
    page.screenshot(path=str(tmp_path / "item-photo.png"), full_page=True)

    url = photo.get_attribute("src")
    served = context.request.get(url)
    assert served.status == 200 and served.body().startswith(b"\xff\xd8") and served.body() != buffer.getvalue()
    headers = served.headers
    assert headers["content-type"] == "image/jpeg" and headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"] == 'inline; filename="photo.jpg"' and "no-store" in headers["cache-control"]
    context.close()

    dispute_context, dispute = _sign_in(browser, console["base"], "dee@peermetals.com")
    assert dispute_context.request.get(url).status == 403
    dispute_context.close()
    with httpx.Client(base_url=console["base"]) as anonymous:
        assert anonymous.get(url).status_code == 303  # signed out: to the sign-in page, no photo

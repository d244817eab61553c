"""The wall's and the rule editor's scripts speak French to a French browser.

A static check that wall.js and notifications.js put no bare English literal where the page
shows it (textContent, title, aria-label, an element's text), then headless Chromium with
locale fr-FR on both pages. The French needs the compiled catalogue (djangojs.mo): the test
command compiles it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from livestatus import overview_store
from tests.factories import NaemonNodeFactory
from tests.preferences.conftest import make_rule
from tests.services.browser import logged_in_page

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [
    ROOT / "livestatus" / "static" / "livestatus" / "wall.js",
    ROOT / "preferences" / "static" / "preferences" / "notifications.js",
]

# --- no bare English where the page shows it --------------------------------------------------

STRING = r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
# Literals already given to the catalogue, and the ones that name things rather than say them
# (tags, class names, selectors): blanked before looking, so that only shown words remain.
TRANSLATED = re.compile(rf"\b(?:gettext|ngettext|_)\(\s*(?:{STRING})(?:\s*,\s*(?:{STRING}))?")
ELEMENT = re.compile(rf"\bel\(\s*(?:{STRING})(\s*,\s*(?:{STRING}))?")
SELECTOR = re.compile(
    rf"(?:\$|\.getElementById|\.querySelector(?:All)?|\.getAttribute|\.setAttribute)\(\s*(?:{STRING})"
)
# A value compared, or an API word that decisionBadge() turns into its label.
KEYS = re.compile(rf"(?:[!=]==\s*|\bdecisionBadge\(\s*)(?:{STRING})")
COMMENT = re.compile(r"/\*.*?\*/|(?<![:\"'])//.*?$", re.DOTALL | re.MULTILINE)
# Where a script's string reaches the reader.
ASSIGNED = re.compile(r"\.(?:textContent|innerHTML|innerText|title)\s*=(?!=)")
ATTRIBUTE = re.compile(r'(?:\btext|\btitle|"aria-label"|\bplaceholder)\s*:')
CALL = re.compile(r"\b(?:el|\.push|\.append|createTextNode|confirm|alert)\(")
LABELS = re.compile(r"\b(?:\w*LABELS|word)\s*=(?!=)")
WORDS = re.compile(r"[A-Za-z]{2,}")
#: Shown-place literals that are not words for a reader: the clock's 24-hour format.
ALLOWED = {'"en-GB"'}


def _expression(js: str, start: int, *, stop: str) -> str:
    """The text from ``start`` to the first ``stop`` character outside brackets and strings."""
    depth, i = 0, start
    while i < len(js):
        char = js[i]
        if char in "\"'":
            literal = re.match(STRING, js[i:])
            i += literal.end() if literal else 1
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif char in stop and depth == 0:
            break
        i += 1
    return js[start:i]


def _without_nested_elements(expression: str) -> str:
    """Nested el(...) calls are checked on their own; their attribute objects are not text."""
    while (match := re.search(r"\bel\(|\{", expression)) is not None:
        end = match.end() + len(_expression(expression, match.end(), stop=""))
        expression = expression[: match.start()] + "X" + expression[end + 1 :]
    return expression


def bare_strings(js: str) -> list[str]:
    """English literals that would reach the page without the catalogue."""
    js = COMMENT.sub("", js)
    js = TRANSLATED.sub("gettext(T", js)
    js = ELEMENT.sub(lambda m: "el(TAG, CLASS" if m.group(1) else "el(TAG", js)
    js = SELECTOR.sub("$(SEL", js)
    js = KEYS.sub(" KEY", js)
    shown: list[str] = []
    for match in ASSIGNED.finditer(js):
        shown.append(_expression(js, match.end(), stop=";"))
    for match in ATTRIBUTE.finditer(js):
        shown.append(_expression(js, match.end(), stop=",;"))
    for match in LABELS.finditer(js):
        shown.append(_expression(js, match.end(), stop=";"))
    for match in CALL.finditer(js):
        arguments = _expression(js, match.end(), stop="")
        if match.group() == "el(":
            # el(tag, class or attributes, text or children): only what follows is shown.
            for _skipped in range(2):
                arguments = arguments[len(_expression(arguments, 0, stop=",")) + 1 :]
        shown.append(_without_nested_elements(arguments))
    return sorted(
        {
            literal
            for expression in shown
            for literal in re.findall(STRING, expression)
            if WORDS.search(literal) and literal not in ALLOWED
        }
    )


def test_the_checker_finds_bare_words_in_every_shown_place() -> None:
    bare = """
      status.textContent = "Saved.";
      box.title = "Move " + "up";
      el("button", { className: "btn btn-sm", text: "Edit", "aria-label": "Edit rule " + n });
      el("td", "p-service", p.service || "(host)");
      lines.push(["Access refused", message]);
      const word = { problem: "new problem" };
      el("p", {}, [el("strong", { text: n }), " notifications over your last 7 days"]);
    """
    assert bare_strings(bare) == sorted([
        '"(host)"', '" notifications over your last 7 days"', '"Access refused"', '"Edit rule "',
        '"Edit"', '"Move "', '"Saved."', '"new problem"', '"up"',
    ])  # fmt: skip
    translated = """
      status.textContent = gettext("Saved.");
      box.title = _("Move %s", "up");
      el("button", { className: "btn btn-sm", text: gettext("Edit"), "aria-label": _("Edit rule %s", n) });
      el("td", "p-service", p.service || gettext("(host)"));
      lines.push([gettext("Access refused"), message]);
      const word = { problem: gettext("new problem") };
      el("p", {}, [el("strong", { text: n }), " " + gettext("notifications over your last 7 days")]);
      $("clock").textContent = now.toLocaleTimeString("en-GB");
      node.setAttribute("data-ready", "true");
      el("td", {}, [field === "days" ? DAY_LABELS[value] : value, decisionBadge("suppress")]);
    """
    assert bare_strings(translated) == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_the_scripts_show_no_bare_english(script: Path) -> None:
    assert bare_strings(script.read_text()) == []


# --- in a browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_a_french_browser_gets_the_wall_in_french(
    owner: User, live_server: LiveServer, settings: Settings
) -> None:
    from playwright.sync_api import expect

    # No Redis: the overview is computed on request. A node without a Livestatus address is
    # not watched, so the wall has a banner, unknown counts and no groups to say in French.
    settings.REDIS_URL = ""
    overview_store.forget_local()
    NaemonNodeFactory(name="paris-1")
    try:
        with logged_in_page(live_server, owner, settings, locale="fr-FR") as page:
            page.goto(f"{live_server.url}/wall/")
            wall = page.locator("#wall[data-status=partial]")
            expect(wall).to_be_attached()
            expect(page.locator("#banner")).to_contain_text("Nœud paris-1 non surveillé")
            expect(page.locator("#banner")).to_contain_text("ses hôtes ne sont pas comptés ici")
            expect(page.locator("#summary")).to_contain_text("? hôtes · ? services")
            expect(page.locator("[data-count=down]")).to_contain_text("en panne")
            expect(page.locator("#tiles")).to_have_text("Aucun groupe d'hôtes.")
            expect(page.locator("#problems")).to_contain_text("Aucun connu : tous les nœuds")
            expect(page.locator("#age")).to_contain_text("mis à jour il y a")
    finally:
        overview_store.forget_local()


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_a_french_browser_gets_the_rule_editor_in_french(
    owner: User, live_server: LiveServer, settings: Settings
) -> None:
    from playwright.sync_api import expect

    make_rule(owner, action="suppress", days=["sat", "sun"], comment="week-end")
    with logged_in_page(live_server, owner, settings, locale="fr-FR", timezone_id="UTC") as page:
        page.goto(f"{live_server.url}/notifications/")
        expect(page.locator("#notifications-page[data-ready=true]")).to_be_attached()
        row = page.locator("#rules-body tr").first
        expect(row).to_contain_text("supprimer")
        expect(row).to_contain_text("sam. dim. 00:00\u201324:00")  # an en dash
        expect(row.get_by_role("button", name="Modifier la règle 1")).to_have_text("Modifier")
        expect(row.get_by_role("button", name="Supprimer la règle 1")).to_have_text("Supprimer")
        expect(row.get_by_role("button", name="Monter la règle 1")).to_have_attribute("title", "Monter")
        page.get_by_role("button", name="Modifier la règle 1").click()
        expect(page.locator("#rule-editor-heading")).to_have_text("Modifier la règle")
        expect(page.locator("label[for=rule-days-mon]")).to_have_text("lun.")

"""The interface in French: Accept-Language and the profile's choice, every template marked, the .po complete.

The French pages need the compiled catalogue (locale/fr/LC_MESSAGES/django.mo): the README's test
command and `make run` compile it with `manage.py compilemessages` (GNU gettext's msgfmt).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from tests.services.browser import logged_in_page
from tests.services.required import require_service

ROOT = Path(__file__).resolve().parents[2]
# The pages' catalogue, and the scripts' one (served by /jsi18n/).
CATALOGUES = sorted((ROOT / "locale" / "fr" / "LC_MESSAGES").glob("*.po"))
ARTIFACTS = ROOT / "var" / "test" / "artifacts"

# (page, a string of its English page, the same string on its French page)
PAGES = [
    ("/", "Control-room wall", "Mur de la salle de supervision"),
    ("/", "Log out", "Se déconnecter"),
    ("/status/", "Problems", "Problèmes"),
    ("/status/hosts/", "Last check", "Dernier contrôle"),
    ("/registry/", "Host templates", "Modèles d'hôtes"),
    ("/registry/hosts/", "Add host", "Ajouter un hôte"),
    ("/notifications/", "When no rule matches", "Quand aucune règle ne correspond"),
    ("/profile/", "Create token", "Créer le jeton"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "english", "french"), PAGES)
def test_pages_follow_the_browser_language(owner: User, path: str, english: str, french: str) -> None:
    client = Client()
    client.force_login(owner)
    page = client.get(path, headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert page.status_code == 200
    html = page.content.decode()
    assert french in html and english not in html
    assert '<html lang="fr"' in html
    assert english in client.get(path, headers={"accept-language": "en-GB,en;q=0.9"}).content.decode()


@pytest.mark.django_db
def test_the_login_page_is_french_for_a_french_browser() -> None:
    html = Client().get("/login/", headers={"accept-language": "fr"}).content.decode()
    assert "Se connecter" in html and "Mot de passe" in html


@pytest.mark.django_db
def test_the_profile_choice_wins_over_the_browser(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    profile = client.get("/profile/", headers={"accept-language": "en"}).content.decode()
    assert 'action="/i18n/setlang/"' in profile and '<option value="fr" lang="fr"' in profile

    chosen = client.post("/i18n/setlang/", {"language": "fr", "next": "/profile/"})
    assert chosen.status_code == 302 and chosen["Location"] == "/profile/"
    assert "Se déconnecter" in client.get("/", headers={"accept-language": "en"}).content.decode()
    assert "Changer de langue" in client.get("/profile/", headers={"accept-language": "en"}).content.decode()

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Log out" in client.get("/", headers={"accept-language": "fr"}).content.decode()


@pytest.mark.django_db
def test_an_unknown_language_choice_changes_nothing(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert "Se déconnecter" in client.get("/").content.decode()


@pytest.mark.django_db
def test_messages_after_an_action_are_french(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    created = client.post("/profile/", {"name": "ansible"}, follow=True).content.decode()
    assert "Jeton « ansible » créé. Copiez-le maintenant" in created


# --- every template marked --------------------------------------------------------------------

TEMPLATE_DIRS = [
    ROOT / app / "templates" for app in ("monitoring_portal", "registry", "livestatus", "preferences")
]
# Text Django renders as is, so a translator must see it: whatever the tags below leave over.
_SKIPPED = re.compile(
    r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}"
    r"|{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}"
    r"|<(script|style|code)\b[^>]*>.*?</\1>",
    re.S | re.I,
)
_TEMPLATE_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_HTML_TAG = re.compile(r"<[^>]*>", re.S)
_VISIBLE_ATTRIBUTE = re.compile(r"\b(title|placeholder|aria-label|alt)\s*=\s*\"([^\"]*)\"", re.I)
# Technical tokens only: CSS class names given through a block, never words a person reads.
ALLOWED = {"light", "container-fluid"}


def unmarked_strings(template: str) -> list[str]:
    """The visible text and attribute values of a template that no translate tag covers."""
    text = _TEMPLATE_TAG.sub(" ", _SKIPPED.sub(" ", template))
    found = [value for _, value in _VISIBLE_ATTRIBUTE.findall(text) if re.search(r"[A-Za-z]", value)]
    for chunk in _HTML_TAG.sub("\n", text).splitlines():
        chunk = chunk.strip()
        if chunk not in ALLOWED and re.search(r"[A-Za-z]{2}", re.sub(r"&\w+;", "", chunk)):
            found.append(chunk)
    return found


def test_the_checker_finds_unmarked_text_and_attributes() -> None:
    assert unmarked_strings('<p title="Hello">{% translate "Fine" %} Hosts {{ n }}</p>') == ["Hello", "Hosts"]
    assert (
        unmarked_strings("{% blocktranslate %}Fine {{ n }}{% endblocktranslate %}<code>naemon -v</code>")
        == []
    )


@pytest.mark.parametrize(
    "template",
    sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*.html")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_template_marks_its_visible_text(template: Path) -> None:
    assert unmarked_strings(template.read_text()) == []


# --- every script marked ----------------------------------------------------------------------

SCRIPTS = sorted(
    p
    for app in ("monitoring_portal", "registry", "livestatus", "preferences")
    for p in (ROOT / app / "static").rglob("*.js")
    if "vendor" not in p.parts
)
_JS_STRING = r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`"
_JS_COMMENT = re.compile(r"/\*.*?\*/|(?:^|(?<=\s))//[^\n]*", re.S)
# A catalogue call's own literals (msgid, plural) are what a translator sees: not findings. `_` is
# a wrapper some scripts define around interpolate(gettext()); xgettext extracts it by default.
_JS_MARKED = re.compile(
    rf"(?<![\w$.])(?:_|(?:n|p|np)?gettext)\(\s*(?:{_JS_STRING})(?:\s*,\s*(?:{_JS_STRING}))*"
)
# Where a script puts text in front of a reader: the DOM's text and visible attributes, dialogs,
# HTML it inserts, nodes it appends.
_JS_ASSIGNED = r"\.(?:textContent|innerText|innerHTML|outerHTML|title|placeholder|ariaLabel)\s*\+?=(?!=)"
_JS_CALLED = (
    r"\bsetAttribute\(\s*[\"'](?:title|placeholder|aria-label|alt)[\"']\s*,"
    r"|\b(?:alert|confirm|prompt|insertAdjacentHTML)\("
    r"|\.(?:append|prepend|replaceChildren|before|after|replaceWith)\("
)
_JS_SINK = re.compile(rf"(?P<assigned>{_JS_ASSIGNED})|{_JS_CALLED}")
# Not words for a reader: one lowercase word (a state code, a tag name, a key) or class lists and
# other hyphenated tokens ("text-danger small", "en-GB").
_JS_TOKENS = re.compile(r"[a-z][a-z0-9]*|(?=[\w -]*-)[\w-]+(?: [\w-]+)*")


def _arguments(code: str, start: int) -> str:
    """The code from ``start`` to the parenthesis that closes the call opened just before it."""
    depth = 1
    for match in re.finditer(rf"{_JS_STRING}|[()]", code[start:]):
        depth += {"(": 1, ")": -1}.get(match.group(), 0)
        if depth == 0:
            return code[start : start + match.start()]
    return code[start:]


def unmarked_script_strings(script: str) -> list[str]:
    """String literals with words that a script shows (text, visible attributes, dialogs) outside gettext()."""
    code = _JS_MARKED.sub("gettext(_", _JS_COMMENT.sub(" ", script))
    found = []
    for sink in _JS_SINK.finditer(code):
        if sink.group("assigned"):
            shown = re.split(r";|\n(?!\s*[-+?:|&])", code[sink.end() :].lstrip(), maxsplit=1)[0]
        else:
            shown = _arguments(code, sink.end())
        for literal in re.findall(_JS_STRING, shown):
            text = re.sub(r"\$\{.*?\}", " ", literal[1:-1]).strip()
            if re.search(r"[A-Za-z]{2}", text) and not _JS_TOKENS.fullmatch(text):
                found.append(literal[1:-1])
    return found


def test_the_script_checker_finds_unmarked_text() -> None:
    assert unmarked_script_strings(
        'el.textContent = "Saved"; b.title = ok ? gettext("Fine") : "Failed";'
        ' alert(`Gone ${n}`); li.append("Hosts: ", n); btn.setAttribute("aria-label", "Close");'
        ' list.innerHTML = "<b>" + gettext("Done") + "</b>";'
    ) == ["Saved", "Failed", "Gone ${n}", "Hosts: ", "Close"]
    # What a helper is given inside a sink counts too; its class names and state codes do not.
    assert unmarked_script_strings('box.append(line("Nothing was sent", "text-danger small"), "down")') == [
        "Nothing was sent"
    ]
    assert (
        unmarked_script_strings(
            '// el.textContent = "in a comment"\n'
            'el.textContent = interpolate(gettext("%s host"), [n]) + " / " + ngettext("a", "b", n);'
            ' el.className = "text-danger"; el.setAttribute("aria-selected", "false");'
        )
        == []
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_script_marks_the_text_it_shows(script: Path) -> None:
    assert unmarked_script_strings(script.read_text()) == []


# --- the catalogue -----------------------------------------------------------------------------


def test_both_catalogues_are_there() -> None:
    assert [p.name for p in CATALOGUES] == ["django.po", "djangojs.po"]


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.name)
def test_the_french_catalogue_has_no_untranslated_or_fuzzy_entry(po: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    require_service("GNU gettext", msgfmt is not None, "msgfmt is missing (Debian package gettext)")
    assert msgfmt
    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # msgfmt names the fuzzy and untranslated counts only when there are some.
    assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), result.stderr


# --- in a browser ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_french_browser_gets_the_home_page_in_french(
    owner: User, live_server: LiveServer, settings: Settings
) -> None:
    with logged_in_page(
        live_server, owner, settings, locale="fr-FR", viewport={"width": 1280, "height": 800}
    ) as page:
        page.goto(f"{live_server.url}/")
        assert page.evaluate("document.documentElement.lang") == "fr"
        assert page.inner_text("nav").count("Référentiel") == 1
        assert "Mur de la salle de supervision" in page.inner_text("main")
        # The scripts' words come from the French /jsi18n/ catalogue.
        assert page.evaluate("gettext('Nothing found')") == "Aucun résultat"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "french-home.png"), full_page=True)

"""Messaging and social apps named as a place to continue, with or without a username.

Apps are matched from a lexicon that includes misspellings and digit swaps. Names that are also
English words ("signal", "snap", "X", "messenger") need contact grammar around them, so "sell
signal" or "snap a photo" stay clean; refusals and warnings are clean for every app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.detection import languages
from pipeline.detection.context import clause_end, clause_start, describes_item, is_refused, sentence_of
from pipeline.detection.decoders import NATO
from pipeline.detection.gates import MessageWords, message_words, stems
from pipeline.detection.hits import Hit, bounded

STRONG, SOCIAL, WEAK, LABELLED = "strong", "social", "weak", "labelled"


@dataclass(frozen=True, slots=True)
class MessagingApp:
    """An off-platform channel: its canonical name, spellings and how much context it needs."""

    name: str
    pattern: str
    strength: str


APPS = (
    MessagingApp("whatsapp", r"wh?[a4@]t{1,2}'?[sz]{1,2}[\s._-]?[a4@]p{1,2}|wh?[a4@]t{1,2}[a4@]pp|whatsap", STRONG),
    MessagingApp("telegram", r"t[e3]l[e3](?:[\s._-]?g|g[\s._-])r[a4@]m{1,2}|t[e3]l[e3]gr[a4@]m|telegrm", STRONG),
    MessagingApp("snapchat", r"sn[a4@]p[\s._-]?ch[a4@]t", STRONG),
    MessagingApp("discord", r"d[i1]sc[o0]rd", STRONG),
    MessagingApp("wechat", r"wechat|we-chat|weixin", STRONG),
    MessagingApp("kik", r"kik", STRONG),
    MessagingApp("viber", r"v[i1]ber", STRONG),
    MessagingApp("skype", r"sk[yi]pe", STRONG),
    MessagingApp("line", r"line[\s_-]?(?:app|id)", STRONG),
    MessagingApp("threema", r"threema", STRONG),
    MessagingApp("imessage", r"i[\s-]?message|facetime", STRONG),
    MessagingApp("groupme", r"group\s?me", STRONG),
    MessagingApp("googlechat", r"google\s?chat|hangouts|google\s?voice", STRONG),
    MessagingApp("messenger", r"f(?:b|acebook)\s?messenger", STRONG),
    MessagingApp("instagram", r"[i1]nst[a4@][\s._-]?gr[a4@]m|[i1]nst[a4@]", SOCIAL),
    MessagingApp("facebook", r"f[a4@]ce[\s._-]?b[o0]{2}k|fb", SOCIAL),
    MessagingApp("twitter", r"tw[i1]tter", SOCIAL),
    MessagingApp("tiktok", r"t[i1]k[\s_-]?t[o0]k", SOCIAL),
    MessagingApp("reddit", r"reddit", SOCIAL),
    MessagingApp("vk", r"vk|vkontakte", SOCIAL),
    MessagingApp("youtube", r"you\s?tube|yt\s+channel", SOCIAL),
    MessagingApp("signal", r"s[i1]g[\s._-]?n[a4@]l|sig", WEAK),  # "sig" as "ig"/"tg": only in a contact context
    MessagingApp("snapchat", r"sn[a4@]p", WEAK),
    MessagingApp("messenger", r"messenger", WEAK),
    MessagingApp("instagram", r"ig|gram", WEAK),
    MessagingApp("telegram", r"tg", WEAK),
    # Two-letter short forms that are also abbreviations ("SC" a state, "DC" a city): only as a label with a name.
    MessagingApp("snapchat", r"sc", LABELLED),
    MessagingApp("discord", r"dc", LABELLED),
    MessagingApp("whatsapp", r"zap(?:zap)?", WEAK),  # Brazilian slang: "me chama no zap"
    MessagingApp("whatsapp", r"g?[uw]asap|wasa", STRONG),  # Spanish slang spellings of WhatsApp
    MessagingApp("whatsapp", r"WA(?=\s+(?:me|us)\b)", STRONG),  # "WA me"
    # Apps by the colour of their icon ("the <colour> app").
    MessagingApp("whatsapp", r"green\s+(?:app|icon)", WEAK),
    MessagingApp("viber", r"purple\s+(?:app|icon)", WEAK),
)
_APP_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(f"(?P<a{i}>{a.pattern})" for i, a in enumerate(APPS)) + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# "Telegram-era token", "Snap-lock capsule": an app name glued to a word describes a thing.
_COMPOUND = re.compile(r"-[A-Za-z]")
_DISCORD_AS_WORD = re.compile(r"\s+(?:between|among|amongst|within)\b", re.IGNORECASE)
# "do you have <app>?", "are you on <app>?": asking whether the other side uses the app.
_ASKED_ABOUT_BEFORE = re.compile(r"\b(?:do\s+(?:you|u)\s+(?:have|use)|are\s+(?:you|u)\s+on|(?:you|u)\s+on|got)\s+$", re.IGNORECASE)
_VINTAGE_BEFORE = re.compile(r"\b(?:1[5-9]\d0'?s|1[5-9]\d\d)\b[^.!?]{0,30}$")
_VINTAGE_AFTER = re.compile(r"[^.!?]{0,20}\b(?:in|of|from|dated)\s+1[5-9]\d\d\b")
_X_PATTERN = re.compile(r"(?<![\w@])X(?![\w'])")

_CONTACT_WORDS = re.compile(
    r"\b(?:me|us|add|find|follow|message|msg|dm|chat|talk|continue|reach|contact|hit|hmu|ping|move|"
    r"switch|text|call|username|handle|page|profile|account|my|our|use|have|got|search|join)\b|@[A-Za-z_]",
    re.IGNORECASE,
)
_USERNAME_CUE = re.compile(r"\b(?:username|user name|handle|user id|id is)\b|@[A-Za-z_]|\w#\d{4}\b", re.IGNORECASE)
_PREPOSITION_BEFORE = re.compile(r"\b(?:on|via|over|through|thru|in|at)\s+(?:the\s+)?$", re.IGNORECASE)
# "I'm on <app>", "we're also on <app>": the writer says where they can be found.
_SELF_ON_BEFORE = re.compile(r"\b(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:also\s+|too\s+|now\s+|mostly\s+)?on\s+$", re.IGNORECASE)
_REDDIT_USER = re.compile(r"(?<![\w/])u/[A-Za-z0-9_-]{3,20}\b")
_POSSESSIVE_BEFORE = re.compile(r"\b(?:my|our)\s+$", re.IGNORECASE)
_LABEL_AFTER = re.compile(r"^\s*(?:[:=]|is\b|name\b|username\b|handle\b|id\b|@)|^\s+-", re.IGNORECASE)
_USER = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{1,30}[A-Za-z0-9_](?:\s+(?i:underscore)\s+[A-Za-z0-9][A-Za-z0-9_.]{0,30})*"
_USERNAME_AFTER = re.compile(
    r"^[\s:=\-]*(?:(?P<label>(?:my\s+)?(?:user\s?name|handle|id|name)\s*(?:is|:|=|-)?\s*(?:at\s+)?)|(?P<bare>is\s+)|(?:is\s+)?at\s+)?(?P<at>@)?"
    r"(?P<user>" + _USER + r")",
    re.IGNORECASE,
)
# "<app> is <adjective>, handle is <name>": the label may come later in the sentence.
_LATER_LABEL = re.compile(
    r"\b(?:user\s?name|handle|user\s?id)\s*(?:is|:|=|-)?\s*(?:at\s+)?@?(?P<user>" + _USER + r")", re.IGNORECASE
)
_ENDS_PHRASE = re.compile(r"\s*(?:[?,.!:;\u2014\u2013-]|$|too\b|as\b|and\b)", re.IGNORECASE)
# Short forms that are also things people own ("my sig" = a forum signature): owning one says nothing.
_OWNED_WORDS = frozenset({"sig"})
_SHORT_ON_BEFORE = re.compile(r"\b(?:me|u|you|i'?m|im|we'?re|also|add|find)\s+on\s+$", re.IGNORECASE)
# "<app> me": the app used as a verb, unless what follows makes it a photo request ("snap me a pic").
_APP_AS_VERB = re.compile(
    r"\s+(?:me|us)\b(?!\s+(?:a|an|the|some|more|another|over|back|photos?|pics?|pictures?|shots?|close[\s-]?ups?|"
    r"images?|videos?|one|two|three|both|each|those|these|it)\b)",
    re.IGNORECASE,
)
# "<app> name in <some code>: <user>": a label, a few words, then the name after a colon.
_NAME_THEN_COLON = re.compile(r"^\s*(?:user\s?)?name\b[^:\n]{0,24}:\s*@?(?P<user>" + _USER + r")", re.IGNORECASE)
_AT_HANDLE = re.compile(r"(?<![\w@.])@(?P<user>[A-Za-z_][A-Za-z0-9_.]{1,29}[A-Za-z0-9_])")
_HANDLE_VERB = re.compile(
    r"\b(?:follow|add|dm|message|msg|find|hit|hmu|reach|contact|ping|me at|me on|look me up|check out)\b",
    re.IGNORECASE,
)
_DISCORD_TAG = re.compile(r"(?<![\w#])(?P<user>[A-Za-z][A-Za-z0-9_.]{2,31})#(?P<tag>\d{4})(?!\d)")
_TAG_GUARD = re.compile(
    r"^(?:lot|item|order|no|num|number|ticket|case|invoice|cert|box|sku|listing|offer|po|ref|tracking|"
    r"serial|pcgs|ngc|vam|km|pop|slot|page|row|bin|tube|receipt|id)$",
    re.IGNORECASE,
)
_COMMON_WORDS = frozenset(
    """the a an and or is me my to for on in at it this that there here if when later tonight tomorrow today now soon
    asap anytime whenever please pls same usual below above number phone meu minha mi mis mon ma mein meine mio mia min
    zero oh one two three four five six seven eight nine ten""".split()
)


def _not_a_username(word: str) -> bool:
    """A common word, or a number word of any vocabulary ("zap: seis dois ..." says a number, not a user)."""
    lowered = word.lower()
    return lowered in _COMMON_WORDS or lowered in languages.VOCABULARY.numbers or lowered.isdigit()


# Two spelling-alphabet words in a row spell the name; the first of them is not the name itself.
_SPELLED_START = re.compile(r"\s*(?:" + "|".join(w for w in NATO if w.isalpha()) + r")\s+(?:" + "|".join(w for w in NATO if w.isalpha()) + r")\b",
                            re.IGNORECASE)


# The app pattern runs only when the message (digit swaps undone) has one of these words, or a word
# starting with one of the distinctive prefixes, which also admit misspellings ("whatsaap").
_APP_WORDS = frozenset(
    """whatsapp whatsap watsapp whatapp wats whats wa telegram telegrm tele gram discord wechat weixin kik viber
    skype line threema imessage message facetime groupme google hangouts instagram insta ig facebook face book
    fb twitter tiktok tik tok reddit signal sig nal zap zapzap guasap wasap wasa wa green purple snap snapchat messenger youtube tube yt tg sc dc vk vkontakte""".split()
)
TRIGGER_STEMS = (
    "whats", "wats", "whts", "watts", "whta", "teleg", "telgr", "snapc", "disco", "wech", "weix", "vibe", "skyp",
    "imes", "faceb", "facet", "insta", "instg", "twit", "tikt", "redd", "sign", "messe",
)
TRIGGER_WORDS = _APP_WORDS | {"google", "search", "look", "qr"}
_APP_STEMS = stems(*TRIGGER_STEMS)


def find_handles(text: str, gate: MessageWords | None = None) -> list[Hit]:
    """Return handle hits in normalised ``text``."""
    gate = gate or message_words(text)
    hits: list[Hit] = []
    matches = bounded(_APP_PATTERN.finditer(text)) if gate.any_word(_APP_WORDS) or gate.any_stem(_APP_STEMS) else ()
    for match in matches:
        app = APPS[int(match.lastgroup[1:])]  # type: ignore[index]
        hit = _judge_app(text, match.start(), match.end(), app)
        if hit is not None:
            hits.append(hit)
    if "X" in text:
        hits.extend(_x_mentions(text))
    if "@" in text:
        hits.extend(_bare_handles(text, hits))
    if "#" in text:
        hits.extend(_discord_tags(text))
    if "u/" in text or "r/" in text:
        hits.extend(_reddit_names(text, hits))
    if not gate.words.isdisjoint(_SEARCH_WORDS):
        hits.extend(_shop_searches(text))
    if "qr" in gate.words:
        hits.extend(_qr_codes(text))
    return hits


# A QR code the reader should scan in a listing photo or profile leads to a page off the platform;
# the QR of an assay card, a grading label or a shipping label verifies the item and stays clean.
_QR = re.compile(r"\bqr\b", re.IGNORECASE)
_QR_PLACE = re.compile(r"\b(?:scan|listing|photo|photos|pic|pics|picture|image|profile|bio|avatar|banner|page)\b", re.IGNORECASE)
_QR_ITEM = re.compile(
    r"\b(?:assay|certificate|cert|verify|verif\w+|authentic\w*|holder|slab|pcgs|ngc|grading|label|packaging|blister|"
    r"mint'?s?|tracking|usps|ups|fedex|dhl|return)\b",
    re.IGNORECASE,
)


def _qr_codes(text: str) -> list[Hit]:
    for match in bounded(_QR.finditer(text)):
        sentence = sentence_of(text, match.start(), match.end())
        if _QR_PLACE.search(sentence) and not _QR_ITEM.search(sentence) and not is_refused(text, match.start(), match.end()):
            return [Hit("intent", ((match.start(), match.end()),), "qr_code", 0.8)]
    return []


# A Reddit user or subreddit offered as the place to continue ("I'm u/<name>, PM me there").
_REDDIT_NAME = re.compile(r"(?<![\w/])(?P<kind>[ur])/(?P<name>[A-Za-z0-9_][A-Za-z0-9_-]{2,20})\b")
_REDDIT_INVITE = re.compile(
    r"\b(?:i'?m|i\s+am|me|my|pm|dm|message|msg|chat|find|over\s+there|there|cheaper|join|check|hit|ping)\b", re.IGNORECASE
)


def _reddit_names(text: str, found: list[Hit]) -> list[Hit]:
    """Reddit names with an invitation in the sentence; a subreddit only counts when no user is named."""
    names = list(bounded(_REDDIT_NAME.finditer(text)))
    users = [m for m in names if m.group("kind") == "u"] or names
    for match in users:
        if any(h.start <= match.start() < h.end for h in found):
            return []
        sentence = sentence_of(text, match.start(), match.end())
        if _REDDIT_INVITE.search(sentence) and not is_refused(text, match.start(), match.end()):
            value = f"reddit:{match.group('kind')}/{match.group('name').lower()}"
            return [Hit("handle", ((match.start(), match.end()),), value, 0.88)]
    return []


# "google <shop name>", "search for <shop name>": a business name to find outside the platform.
_SEARCH_WORDS = frozenset({"google", "search", "look"})
_SHOP_SEARCH = re.compile(
    r"\b(?:google|search(?:\s+for)?|look\s+up)\s+(?:my\s+(?:shop|store|business)(?:\s+name)?,?\s+)?['\"“‘]?"
    r"(?P<name>(?:[A-Z][\w&'-]*\s+){0,4}(?:Bullion|Coins?|Metals?|Mint|Exchange|Numismatics|Trading|Vault|Shop|Store|Co|LLC|Inc)\b"
    r"(?:\s+[A-Z][\w-]*){0,2})",
)


def _shop_searches(text: str) -> list[Hit]:
    """A named coin shop or dealer the reader is told to look up."""
    for match in bounded(_SHOP_SEARCH.finditer(text)):
        if not is_refused(text, match.start(), match.end()):
            name = " ".join(match.group("name").split())
            return [Hit("handle", ((match.start("name"), match.end("name")),), "search:" + name.lower(), 0.82)]
    return []


def _judge_app(text: str, start: int, end: int, app: MessagingApp) -> Hit | None:
    """Report an app mention when its context proposes it as a channel."""
    if is_refused(text, start, end) or _COMPOUND.match(text, end) or describes_item(text, start, end):
        return None
    if app.name == "discord" and _DISCORD_AS_WORD.match(text, end):  # "discord between the graders"
        return None
    if _VINTAGE_BEFORE.search(text[max(0, start - 40) : start]) or _VINTAGE_AFTER.match(text, end):
        return None  # "a 1920s <carrier> telegram": a dated object, older than any messaging app
    if app.strength == SOCIAL and not _social_context(text, start, end):
        return None
    if app.strength == WEAK and not _weak_context(text, start, end):
        return None
    if app.strength == LABELLED and not (_LABEL_AFTER.match(text[end : end + 12]) and _username_after(text, end)) and not (
            _SHORT_ON_BEFORE.search(text[max(0, start - 16) : start]) and _ENDS_PHRASE.match(text, end)):
        return None  # "<short form>: <name>", or "on <short form>" ending the phrase; a state's abbreviation stays clean
    user = _username_after(text, end)
    value = f"{app.name}:{user}" if user else app.name
    span_end = end
    score = {STRONG: 0.92, SOCIAL: 0.88, WEAK: 0.85, LABELLED: 0.85}[app.strength] + (0.05 if user else 0.0)
    return Hit("handle", ((start, span_end),), value, score)


def _social_context(text: str, start: int, end: int) -> bool:
    """A social network counts when owned ("my insta"), labelled, or offered as a place to talk."""
    if _POSSESSIVE_BEFORE.search(text[max(0, start - 8) : start]) or _LABEL_AFTER.match(text[end : end + 12]):
        return True
    if _SELF_ON_BEFORE.search(text[max(0, start - 24) : start]):
        return True
    after = text[end : end + 40]
    if _AT_HANDLE.search(after) or _REDDIT_USER.search(after):
        return True
    clause = text[clause_start(text, start) : clause_end(text, end)]
    return _CONTACT_WORDS.search(clause) is not None


def _weak_context(text: str, start: int, end: int) -> bool:
    """An app name that is also a word needs a username, "on <app>" with a contact verb, or "<app>?"."""
    after = text[end : end + 40]
    if _LABEL_AFTER.match(after) and (_username_after(text, end) or _number_after_label(after)):
        return True
    sentence = text[max(0, start - 60) : end + 60]
    if _USERNAME_CUE.search(sentence) and (after.lstrip().startswith("?") or _LABEL_AFTER.match(after)):
        return True
    clause = text[clause_start(text, start) : clause_end(text, end)]
    if re.match(r"\s+me\b", after) and _USERNAME_CUE.search(clause):
        return True
    if _SELF_ON_BEFORE.search(text[max(0, start - 24) : start]):
        return True
    if _APP_AS_VERB.match(after) and len(text[clause_start(text, start) : start].split()) <= 2:
        return True  # "snap me", "tg me later": the app's name used as the verb that starts the clause
    if _PREPOSITION_BEFORE.search(text[max(0, start - 12) : start]):
        return _CONTACT_WORDS.search(clause) is not None
    if _POSSESSIVE_BEFORE.search(text[max(0, start - 8) : start]) and re.match(r"\s+(?:is|username|handle|id)\b", after):
        return text[start:end].lower() not in _OWNED_WORDS  # "my sig is in the listing": a signature
    if after.lstrip().startswith("?") and _ASKED_ABOUT_BEFORE.search(text[max(0, start - 24) : start]):
        return True
    return clause.strip(" ?").lower() == text[start:end].lower() and after.lstrip().startswith("?")


def _number_after_label(after: str) -> bool:
    """A number follows the label ("tg: 555 0134", "zap: seis dois nove"): three digits or two number words."""
    words = re.findall(r"[^\W_]+", after)[:3]
    if words and words[0].isdigit():
        return sum(len(w) for w in words if w.isdigit()) >= 3
    return len(words) >= 2 and all(w.lower() in languages.VOCABULARY.numbers for w in words[:2])


def _username_after(text: str, end: int) -> str | None:
    """Return the username written after an app name, if any ("coin underscore queen" is coin_queen)."""
    window = text[end : end + 60]
    match = _USERNAME_AFTER.match(window)
    if match and match.group("bare") and not match.group("at") and match.group("user").isalpha():
        # "<app> is easiest": a plain word after "is" is prose unless a label follows later.
        match = None
    if not match:
        later = _LATER_LABEL.search(window) or _NAME_THEN_COLON.search(window)
        return _spoken_user(later.group("user")) if later and not _not_a_username(later.group("user")) else None
    user = match.group("user")
    if _SPELLED_START.match(window, match.start("user")):
        return None
    if _not_a_username(user) or not (match.group().strip() != user or "@" in match.group()):
        later = _NAME_THEN_COLON.search(window)
        if later is None or _SPELLED_START.match(window, later.start("user")) or _not_a_username(later.group("user")):
            return None
        return _spoken_user(later.group("user"))
    return _spoken_user(user)


def _spoken_user(user: str) -> str:
    """Lower-case a username and turn a spoken "underscore" into the character."""
    return re.sub(r"\s+underscore\s+", "_", user, flags=re.IGNORECASE).lower()


def _x_mentions(text: str) -> list[Hit]:
    """Twitter/X: a capital X used as a place ("on X", "X:") next to an @username."""
    hits = []
    for match in bounded(_X_PATTERN.finditer(text)):
        before = text[max(0, match.start() - 12) : match.start()]
        after = text[match.end() : match.end() + 40]
        placed = _PREPOSITION_BEFORE.search(before) or re.match(r"\s*[:\-]", after)
        if placed and _AT_HANDLE.search(after) and not is_refused(text, match.start(), match.end()):
            user = _AT_HANDLE.search(after).group("user").lower()  # type: ignore[union-attr]
            hits.append(Hit("handle", ((match.start(), match.end()),), f"x:{user}", 0.9))
    return hits


def _bare_handles(text: str, found: list[Hit]) -> list[Hit]:
    """An @username offered with a contact verb ("follow @x", "add me @x") and no app named."""
    if "@" not in text:
        return []
    hits = []
    for match in bounded(_AT_HANDLE.finditer(text)):
        if any(h.start <= match.start() <= h.end + 40 for h in found):
            continue
        clause = text[clause_start(text, match.start()) : clause_end(text, match.end())]
        if _HANDLE_VERB.search(clause) and not is_refused(text, match.start(), match.end()):
            hits.append(Hit("handle", ((match.start(), match.end()),), "@" + match.group("user").lower(), 0.85))
    return hits


def _discord_tags(text: str) -> list[Hit]:
    """Legacy Discord tags ``name#1234`` that are not lot, order or cert numbers."""
    if "#" not in text:
        return []
    hits = []
    for match in bounded(_DISCORD_TAG.finditer(text)):
        user = match.group("user")
        if _TAG_GUARD.match(user) or not any(c.islower() for c in user):
            continue
        hits.append(Hit("handle", ((match.start(), match.end()),), f"discord:{user.lower()}#{match.group('tag')}", 0.9))
    return hits

"""Proposals to move the conversation or the deal off the platform, with no identifier given.

Each rule is a small grammar: a contact verb aimed at a person ("text me", "can I call you"), a
request for a channel (asking for a number or an address), a pointer to details hidden
elsewhere (details in a listing photo), or leaving the site ("off the app", "deal direct").
Refusals and phrases routed back through the platform are clean. Leaving
the platform for a lower price (a discount for dealing off-site) is also reported as a
``payment`` finding, as the labelling guide asks.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.detection.context import is_refused, platform_talk, routed_through_platform
from pipeline.detection.gates import MessageWords, message_words
from pipeline.detection.hits import Hit, bounded

_CONTACT_VERB = r"(?:text|txt|call|ring|phone|e-?mail|sms|facetime|whatsapp|telegram)"
_CHANNEL = (
    r"(?:cell(?:\s?phone)?|cell\s+number|phone\s+number|mobile(?:\s+number)?|digits|e-?mail(?:\s+address)?|"
    r"contact\s+(?:info|details|number)|personal\s+(?:number|email|line)|whatsapp|telegram|signal|snap(?:chat)?|"
    r"insta(?:gram)?|ig|fb|facebook|discord|kik|wechat|twitter|tiktok|socials|direct\s+line)"
)
_PLACE = r"(?:site|app|platform|peer\s?metals|marketplace|checkout|here)"
_SITE = r"(?:site|app|platform|peer\s?metals|marketplace)"
_TRADE_NUMBER = r"(?!(?:serial|order|tracking|cert|lot|listing|item|invoice|case|ticket|model|part)\b)"

def _words(text: str) -> frozenset[str]:
    """A vocabulary from a space-separated string."""
    return frozenset(text.split())


_VERBS = _words("text txt call ring phone email mail sms facetime whatsapp telegram")
_CHANNEL_WORDS = _words(
    "cell cellphone phone mobile digits email mail contact personal whatsapp telegram signal snap snapchat "
    "insta instagram ig fb facebook discord kik wechat twitter tiktok socials direct number info details handle"
)

_MARKETS = r"ebay|etsy|craigslist|offerup|mercari|whatnot|poshmark|f(?:b|acebook)\s+marketplace"
_NEGATED_BY_DESIGN = frozenset({"avoid_platform"})
_LEAVING_RULES = frozenset(
    {"off_platform", "outside_platform", "outside_platform_foreign", "deal_direct", "without_platform", "take_offline", "private_deal",
     "talk_elsewhere", "avoid_platform", "leave_platform_out", "other_site", "other_marketplace"}
)
_DISCOUNT = re.compile(
    r"\b(?:drop\s+(?:it|the\s+price)\s+to|knock\s+(?:off|\$?\d+)|take\s+\$?\d+\s+off|discount\w*|cheaper|for\s+less|"
    r"lower\s+price|better\s+price|shave|save\s+(?:you|us)|\d{1,2}\s?%\s+off)\b",
    re.IGNORECASE,
)
# A price (a figure, "flat", "make it $N") offered offered with the proposal to leave.
_PRICE_OFFER = re.compile(r"\b(?:i'?ll\s+do|do\s+it\s+for|make\s+it|for\s+just|let\s+it\s+go\s+for)\s+\$?\d[\d,]*(?:\.\d+)?\b",
                          re.IGNORECASE)
_PLACE_WORDS = _words("site app platform peermetals peer marketplace checkout here middleman middle system")

# Each rule: a name, the pattern, and trigger groups - every group needs one of its words among
# the message's words before the (comparatively slow) pattern runs. The first group is the most
# selective one and indexes the rule. Most messages trigger nothing.
_RULE_TRIGGERS: dict[str, tuple[frozenset[str], ...]] = {
    "contact_me": (_VERBS, _words("me us")),
    "give_you_mine": (_CHANNEL_WORDS | {"details"}, _words("you u ya"), _words("my")),
    "easier_by_phone": (_words("phone text email mail"), _words("easier easiest better quicker faster simpler rather prefer")),
    "talk_elsewhere": (_words("somewhere elsewhere offline here"), _words("talk chat continue deal trade move go take dm pm message msg")),
    "send_me_a": (_words("call ring text txt line email mail sms"), _words("me us you u ya"), _words("a an")),
    "avoid_platform": (_PLACE_WORDS, _words("rather don dont need prefer hate gonna going")),
    "my_channel_is": (_words("email mail cell number phone whatsapp telegram snap insta ig handle username contact"),),
    "other_way_to_pay": (_words("way ways methods method options option"), _words("pay payment another other different")),
    "send_you_money": (_words("money payment funds cash"), _words("send pay wire"), _words("you u")),
    "have_a_site": (_words("website web site store shop page insta instagram facebook fb ig"), _words("have got")),
    "meet_in_person": (_words("person locally irl pickup pick"), _words("meet local up cash")),
    "faster_than_here": (_words("than"), _words("faster quicker easier better simpler")),
    "contact_you": (_VERBS, _words("you u ya")),
    "rather_call": (_words("rather prefer easier easiest better quicker faster"), _VERBS | {"talk"}),
    "talk_by_phone": (_words("phone text email mail sms"), _words("talk chat speak discuss continue communicate")),
    "give_me_yours": (_CHANNEL_WORDS, _words("your ur yr")),
    "whats_yours": (_CHANNEL_WORDS, _words("your ur yr a an")),
    "your_number_for_contact": (_words("number"), _words("call text reach contact ring")),
    "call_or_text": (_words("call text txt phone"), _words("or and")),
    "move_to_channel": (_words("text texting phone call email mail sms whatsapp telegram signal discord messenger dms"),
                        _words("take move bring continue switch carry"), _words("to onto")),
    "phone_then_number": (_words("number"), _words("phone call text cell")),
    "details_elsewhere": (_CHANNEL_WORDS, _words("my our")),
    "off_platform": (_words("off offsite"),),
    "outside_platform": (_words("outside"),),
    "outside_platform_foreign": (_words("ausserhalb ausserhalb hors fuera fora"), _words("plattform plateforme plataforma seite site app")),
    "take_offline": (_words("offline elsewhere privately private somewhere off"),),
    "leave_platform_out": (_words("leave cut keep"), _words("out")),
    "without_platform": (_words("without bypass bypassing circumvent skip skipping around cut"), _PLACE_WORDS),
    "other_site": (_words("other another own different"), _words("site app platform website store shop marketplace")),
    "deal_direct": (_words("direct directly"),),
    "send_money_direct": (_words("direct directly"), _words("send pay wire transfer")),
    "other_marketplace": (_words("ebay etsy craigslist offerup mercari whatnot poshmark marketplace"),),
    "private_deal": (_words("private privately between"),),
    "hit_me_up": (_words("hit hmu reach contact hold touch"), _words("me touch hmu")),
    "reach_directly": (_words("directly privately personally"), _words("reach contact call text message dm email")),
    "link_in_bio": (_words("bio"), _words("link links")),
}

# Patterns are compiled on first use (``_pattern``): most rules never fire in a given run and
# compiling all of them would add some 25 ms to every ``peerguard scan`` start.
INTENT_RULES: tuple[tuple[str, str], ...] = tuple(
    (name, pattern)
    for name, pattern in (
        ("contact_me", rf"\b{_CONTACT_VERB}\s+(?:me|us)\b(?!\s+(?:here|on\s+here|through|thru|via\s+(?:the\s+)?{_PLACE}|crazy|old|picky|paranoid|a\b|an\b))"
                       # "call me Dave" gives a name, not a channel (week days excepted).
                       r"(?!\s+(?-i:(?!(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)[A-Z][a-z]+\b))"),
        ("give_you_mine", rf"\b(?:give|send|text|email|e-mail|dm|pm|pass|drop)\s+(?:you|u|ya)\s+my\s+(?:{_CHANNEL}|number|#|details|info)\b"),
        ("easier_by_phone", r"\b(?:easier|easiest|better|quicker|faster|simpler|rather|prefer)\b[^.!?\n]{0,20}\b(?:over|by|on)\s+"
                            r"(?:the\s+)?(?:phone|text|e-?mail)\b"),
        ("talk_elsewhere", r"\b(?:talk|chat|continue|deal|trade|move|go|take\s+(?:this|it)|dm|pm|message|msg)\s+(?:\w+\s+){0,2}?"
                           r"(?:somewhere\s+else|elsewhere|offline|off\s+here)\b"),
        ("send_me_a", r"\b(?:give|gimme|drop|shoot|send)\s+(?:me|us|you|u|ya)\s+(?:a|an)\s+(?:call|ring|text|txt|line|"
                      r"e-?mail|sms)\b"),
        # Negated on purpose: "I'd rather not go through the app" proposes leaving it.
        ("avoid_platform", rf"\b(?:rather\s+not|don'?t\s+(?:want|need)\s+to|prefer\s+not\s+to|no\s+need\s+to|hate\s+to|"
                           rf"not\s+(?:gonna|going\s+to))\s+(?:go|pay|deal|do\s+(?:it|this)|buy|sell|use|bother)\s+"
                           rf"(?:(?:through|thru|via|on|with)\s+)?(?:the\s+|this\s+)?(?:{_PLACE}|middle\s?man)\b(?!'s)"),
        ("my_channel_is", r"\b(?:my\s+(?:e-?mail|cell|number|phone\s+number|whatsapp|telegram|snap|insta|ig|handle|"
                          r"username|contact)\s+(?:is|=|:)|(?:e-?mail|cell|whatsapp|telegram|snap|insta|ig)\s*:)\s+"
                          r"(?!(?:down|dead|dying|old|broken|full|acting|not|off|on|busy|working|fine|new|cracked|slow|bad|"
                          r"messed|weird|blowing|ringing|out|in|below|above|the|a|an|same|different|private|"
                          r"attached|listed|here|sent|received|confirmed|confirmation|receipt|notifications?|updated|changed)\b)"
                          r"[A-Za-z0-9@+][\w.@+-]{3,}"),
        ("other_way_to_pay", r"\b(?:another|other|different|cheaper|easier|better)\s+(?:way|ways)\s+to\s+pay\b|"
                             r"\bpay\s+(?:you\s+|me\s+)?(?:another|some\s+other|a\s+different)\s+way\b|"
                             r"\bother\s+(?:payment\s+)?(?:methods?|options?)\b"),
        ("send_you_money", r"\b(?:i'?ll|i\s+can|can\s+i|could\s+i|let\s+me|i\s+could)\s+(?:just\s+)?(?:send|pay|wire)\s+"
                           r"(?:you|u)\s+(?:the\s+)?(?:money|payment|funds|cash)\b"),
        ("have_a_site", r"\b(?:do\s+you\s+have|have\s+you\s+got|got)\s+(?:a|an|your\s+own)\s+(?:website|web\s?site|site|"
                        r"store|shop|page|insta(?:gram)?|facebook|fb|ig)\b"
                        r"(?=\s*(?:[?!.,;]|$)|\s+(?:or|where|i\s+can|we\s+can|to\s+(?:see|check|order|buy|browse))\b)"),
        ("meet_in_person", r"\b(?:meet\s+(?:up\s+)?(?:in\s+person|locally|irl)|local\s+pick\s?-?up|pick\s?-?up\s+in\s+person|"
                           r"cash\s+(?:in\s+person|at\s+pick\s?-?up|on\s+pick\s?-?up))\b"),
        ("faster_than_here", r"\b(?:faster|quicker|easier|better|simpler)\s+than\s+(?:this|the)\s+(?:app|site|platform|chat)\b"),
        ("contact_you", rf"\b(?:i'?ll|i\s+will|i\s+can|can\s+i|could\s+i|let\s+me|lemme|i'?d|gonna|going\s+to|want\s+to|"
                        rf"wanna|may\s+i|should\s+i|i\s+could|rather|prefer\s+to|easier\s+to)\s+(?:just\s+)?"
                        rf"{_CONTACT_VERB}\s+(?:you|u|ya)\b"),
        ("rather_call", r"\b(?:rather|prefer\s+to|easier\s+to|easiest\s+to|better\s+to|quicker\s+to|faster\s+to)\s+"
                        r"(?:just\s+)?(?:call|text|phone|talk\s+(?:by|on|over)\s+(?:the\s+)?phone|e-?mail)\b"),
        ("talk_by_phone", r"\b(?:talk|chat|speak|continue|communicate|discuss\s+\w+)\s+(?:by|over|on|via|through)\s+"
                          r"(?:the\s+)?(?:phone|text|e-?mail|sms)\b"),
        ("give_me_yours", rf"\b(?:give|gimme|send|shoot|drop|share|pass|dm|pm|tell|leave|need|want|text|email|get|know|write|post)\s+"
                          rf"(?:me\s+|us\s+)?(?:your|ur|yr)\s+(?:{_CHANNEL}\b|(?:number|#)(?!\s*(?:on|for)\b))"),
        ("whats_yours", rf"\b(?:what'?s|what\s+is|whats|wats|do\s+you\s+have)\s+(?:your|ur|yr|a|an)\s+"
                        rf"(?:good\s+|best\s+)?{_CHANNEL}\b(?!\s+(?:notifications?|settings?|inbox|filters?|provider))"),
        ("your_number_for_contact", r"\b(?:your|ur|a|a\s+good|best|the\s+best)\s+(?:phone\s+)?(?:number|#)\s+"
                                    r"(?:(?:i|we)\s+(?:can|could|should)\s+)?(?:to\s+)?(?:call|text|reach|contact|ring)\b"),
        ("call_or_text", r"\b(?:call|text|txt|phone)\s*(?:or|and|/|&)\s*(?:call|text|txt|whatsapp|email)\b"),
        ("move_to_channel", r"\b(?:take|move|bring|continue|switch|carry)\s+(?:(?:this|it|things|the\s+(?:conversation|chat|"
                            r"convo|deal))\s+)?(?:over\s+)?(?:to|onto)\s+(?:a\s+)?(?:text|texting|phone|a\s+call|e-?mail|sms|"
                            r"whatsapp|telegram|signal|discord|messenger|dms?\s+elsewhere)\b"),
        ("phone_then_number", r"\b(?:phone|call|text|cell)\b[^.!?\n]{0,30}\b(?:what'?s|whats|what\s+is)\s+"
                              r"(?:a|your|the\s+best)\s+(?:good\s+)?number\b"),
        ("details_elsewhere", rf"\b(?:my|our)\s+(?:{_TRADE_NUMBER}\w+\s+){{0,2}}?(?:cell|number|phone|digits|e-?mail|contact|info|details|"
                              r"handle|socials|whatsapp)\b[^.!?\n]{0,30}?\b(?:in|on|at)\s+(?:the\s+|my\s+|your\s+)?"
                              r"(?:\w+\s+){0,2}?(?:photo|photos|pic|pics|picture|pictures|image|images|listing|"
                              r"profile|bio|card|slip|note|description|box|package|invoice|label|insert|watermark)\b"),
        ("off_platform", rf"\boff[\s-]?(?:of\s+)?(?:the\s+|this\s+)?{_SITE}\b|\boffsite\b|\boff[\s-]platform\b"),
        ("outside_platform", rf"\boutside\s+(?:of\s+)?(?:the\s+|this\s+)?{_PLACE}\b"),
        # The same in the languages members also write in: "ausserhalb der Plattform",
        # "outside the platform" in French, Spanish and Portuguese.
        ("outside_platform_foreign", r"\b(?:ausserhalb|hors|fuera|fora)\s+(?:de[rsl]?\s+|de\s+la\s+|da\s+|do\s+|du\s+)?"
                                     r"(?:la\s+)?(?:plattform|plateforme|plataforma|seite|site|app)\b"),
        ("take_offline", r"\b(?:take|move|bring|continue|keep|carry)\s+(?:this|it|things|the\s+(?:conversation|chat|"
                         r"convo|deal|talk))(?:\s+\w+){0,2}?\s+(?:offline|elsewhere|privately|in\s+private|"
                         r"somewhere\s+else|off\s+here)\b"),
        ("leave_platform_out", rf"\b(?:leave|cut|keep)\s+(?:the\s+)?(?:{_PLACE}|middle\s?man)\s+out\b"),
        ("without_platform", rf"\b(?:without|bypass|bypassing|circumvent|skip|skipping|go\s+around|get\s+around|"
                             rf"work\s+around|cut\s+out)\s+(?:the\s+)?"
                             rf"(?:{_PLACE}|middle\s?man|system)\b(?!\s+fees?)"),
        ("deal_direct", r"\b(?:deal|do\s+(?:this|it|business)|handle\s+(?:this|it)|trade|talk|transact|"
                        r"work\s+(?:something|it|this|things)\s+out|"
                        r"settle|sort\s+(?:it|this)\s+out|finish\s+(?:this|it))\s+(?:\w+\s+){0,2}?direct(?:ly)?\b"
                        r"|\b(?:buy|sell|pay|order)\s+(?:it\s+|them\s+)?direct(?:ly)?\s+(?:from|to|with)\s+(?:you|me|us)\b"
                        r"|\b(?:sell|send|ship)\s+(?:it|them|this|these)\s+to\s+(?:you|u|ya)\s+direct(?:ly)?\b"
                        r"|\bdirect\s+(?:deal|sale|trade)\b"),
        ("other_site", r"\b(?:on|at|via|to)\s+(?:the\s+|my\s+|a\s+|an\s+)?(?:other|another|own|different)\s+"
                       r"(?:site|app|platform|website|store|shop|marketplace)\b"),
        ("other_marketplace", rf"\bmy\s+(?:{_MARKETS})\b|\b(?:find|buy|get|check|see|follow|order|listed|list|"
                              rf"listings?|selling|sell|cheaper|also|too)\b[^.!?\n]{{0,25}}\b(?:on|at|via|from)\s+"
                              rf"(?:my\s+)?(?:{_MARKETS})\b"),
        ("send_money_direct", r"\b(?:send|pay|wire|transfer)\s+(?:you|u|me)\s+(?:the\s+)?(?:money|payment|funds|cash)?\s*"
                              r"direct(?:ly)?\b"),
        ("private_deal", r"\bprivate(?:ly)?\s+(?:deal|sale|trade)\b|\b(?:deal|trade|talk|chat|sell|buy|continue|dm|pm|"
                         r"message|msg|contact|reach|text|email|call|"
                         r"(?:do|handle|finish|settle)\s+(?:this|it)|sort\s+(?:this|it)\s+out)\s+(?:\w+\s+){0,2}?"
                         r"(?:privately|in\s+private)\b|\bkeep\s+(?:this|it)\s+between\s+(?:us|you\s+and\s+me)\b"
                         # "arrange/sort it between us": the deal is settled between the two, not here.
                         r"|\b(?:arrange|settle|sort|do|handle|work)\s+(?:it|this|that|things|the\s+rest)\s+(?:out\s+)?"
                         r"between\s+(?:us|us\s+two|the\s+two\s+of\s+us|you\s+and\s+me)\b"),
        ("hit_me_up", rf"\b(?:hit\s+me\s+up|hmu|reach\s+(?:out\s+to\s+)?me|contact\s+me|get\s+(?:a\s+)?hold\s+of\s+me|"
                      rf"get\s+in\s+touch(?:\s+with\s+me)?)\s+"
                      rf"(?:on|at|via|outside|off|by|directly|privately|there)\b(?!\s+(?:here|the\s+{_PLACE}|{_PLACE}))"),
        # Asking for a direct or private way to reach the other person.
        ("reach_directly", r"\b(?:reach|contact|call|text|message|dm|e-?mail)\s+(?:you|u|ya|me|us)\s+"
                           r"(?:directly|privately|personally)\b"),
        # The link is somewhere the platform cannot see: the profile of another network.
        ("link_in_bio", r"\blinks?\s+(?:is\s+|are\s+)?in\s+(?:my\s+|the\s+)?bio\b"),
    )
)
def _index_rules() -> tuple[dict[str, tuple[int, ...]], frozenset[str]]:
    """Index rules by the words of their first (most selective) trigger group."""
    index: dict[str, list[int]] = {}
    for position, (name, _pattern) in enumerate(INTENT_RULES):
        for word in _RULE_TRIGGERS[name][0]:
            index.setdefault(word, []).append(position)
    return {word: tuple(rules) for word, rules in index.items()}, frozenset(index)


_RULE_INDEX, INTENT_WORDS = _index_rules()


def might_match(words: frozenset[str]) -> bool:
    """True when some rule has a word of every trigger group in ``words`` (what ``find_intents`` runs on)."""
    for word in words & INTENT_WORDS:
        for position in _RULE_INDEX[word]:
            if _triggered(words, _RULE_TRIGGERS[INTENT_RULES[position][0]]):
                return True
    return False


def find_intents(text: str, gate: MessageWords | None = None) -> list[Hit]:
    """Return intent hits in normalised ``text``."""
    words = (gate or message_words(text)).words
    hits: list[Hit] = []
    present = words & INTENT_WORDS
    if not present:
        return hits
    candidates = sorted({rule for word in present for rule in _RULE_INDEX[word]})
    for position in candidates:
        name, _source = INTENT_RULES[position]
        if _triggered(words, _RULE_TRIGGERS[name]):
            hits.extend(_matches(text, name, _pattern(position)))
    return hits + _discounted_deals(text, hits)


def _discounted_deals(text: str, hits: list[Hit]) -> list[Hit]:
    """Leaving the platform for a lower price, or going around its checkout, is also a payment proposal."""
    leaving = [h for h in hits if h.value in _LEAVING_RULES]
    if not leaving:
        return []
    if _DISCOUNT.search(text) or _PRICE_OFFER.search(text):
        return [Hit("payment", leaving[0].spans, "off_platform_discount", 0.8)]
    around_checkout = [h for h in leaving if any("checkout" in text[s:e].lower() for s, e in h.spans)]
    return [Hit("payment", around_checkout[0].spans, "off_checkout", 0.8)] if around_checkout else []


@lru_cache(maxsize=None)
def _pattern(position: int) -> re.Pattern[str]:
    """Compile one rule's pattern the first time it is needed."""
    return re.compile(INTENT_RULES[position][1], re.IGNORECASE)


def _triggered(words: frozenset[str], groups: tuple[frozenset[str], ...]) -> bool:
    """True when every trigger group has a word in the message."""
    for group in groups:
        if words.isdisjoint(group):
            return False
    return True


def _matches(text: str, name: str, pattern: re.Pattern[str]) -> list[Hit]:
    """Run one rule, dropping refusals and phrases routed through the platform."""
    hits = []
    for match in bounded(pattern.finditer(text)):
        refused = name not in _NEGATED_BY_DESIGN and is_refused(text, match.start(), match.end())
        if refused or routed_through_platform(text, match.end()) or platform_talk(text, match.start(), match.end()):
            continue
        hits.append(Hit("intent", ((match.start(), match.end()),), name, 0.75))
    return hits

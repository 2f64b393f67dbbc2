"""What the agent says to the customer, in Bulgarian (the default) or English.

A catalogue of plain dicts: the agent has a few dozen sentences, and a dict keeps them, and their placeholders,
side by side and checked by one test (agent/tests/test_messages.py: every key in every language, same
placeholders). gettext's .po/.mo files would add a build step for nothing more.

The language is `--lang`, else the locale (LC_ALL, LC_MESSAGES, LANG: `en*` picks English), else Bulgarian.
Log lines stay in English: they are for whoever helps the customer read the log file.
"""

from __future__ import annotations

import os

LANGUAGES = ("bg", "en")
DEFAULT_LANGUAGE = "bg"

CATALOGUE: dict[str, dict[str, str]] = {
    "bg": {
        "state.connecting": "свързване",
        "state.waiting": "чака консултанта",
        "state.connected": "свързан",
        "state.left": "консултантът излезе",
        "state.reconnecting": "връзката прекъсна, свързване",
        "status.consultant": "консултант: {who}",
        "status.nobody": "още няма консултант",
        "status.allowed": "{scopes}",
        "status.none": "без права",
        "status.hotkey": "за край натиснете Q",
        "hint.take_back_control": "Натиснете C, за да спрете управлението: консултантът ще продължи само да гледа.",
        "control.taken_back": "Управлението е спряно: консултантът вече само гледа.",
        "scope.view": "вижда",
        "scope.control": "управлява",
        "scope.files": "файлове",
        "scope.long.view": "преглед (екран и терминал)",
        "scope.long.control": "управление (клавиатура и мишка)",
        "status.request": "иска да {scopes}: Y/N",
        "request.asks": "Консултантът {who} иска разрешение за: {scopes}.",
        "request.reason": "Причина: {reason}",
        "request.keys": "Натиснете Y, за да разрешите, или N, за да откажете.",
        "request.approving": "Разрешавате {scopes}; изчаква се потвърждение…",
        "request.refusing": "Отказвате {scopes}…",
        "request.unsent": "Отговорът ви не можа да бъде изпратен: натиснете Y или N отново.",
        "request.approved": "Разрешихте на {who}: {scopes}.",
        "request.refused": "Отказахте на {who}: {scopes}. Нищо не е променено.",
        "status.watched": "наблюдава: {who}",
        "status.watched.many": "наблюдават: {who}",
        "observer.joined": ("Супервайзорът {who} вече наблюдава екрана и терминала ви "
                            "(само преглед: не може да пише и да управлява)."),
        "observer.left": "Супервайзорът {who} спря да наблюдава.",
        "chat.line": "[чат] {who}: {text}",
        "chat.you": "вие",
        "chat.hint": "Натиснете T, за да отговорите.",
        "chat.prompt": "Съобщение (Enter изпраща, Esc отказва): ",
        "chat.unsent": "Съобщението ви не можа да бъде изпратено: натиснете T, за да опитате отново.",
        "status.chat": "T: съобщение",
        "log.where": "Дневник: {path}",
        "mirror.title": "Всичко, което консултантът пише и вижда в терминала, се показва тук.",
        "ended.by.customer": "Вие приключихте сесията.",
        "ended.by.consultant": "Консултантът приключи сесията.",
        "ended.by.supervisor": "Супервайзър приключи сесията.",
        "ended.by.system": "Системата приключи сесията ({reason}).",
        "ended.by.unknown": "Сесията приключи ({reason}).",
        "ended.lost": "Връзката беше прекъсната за повече от {seconds} s: сесията е приключена.",
        "ended.unreachable": "Услугата не може да бъде достигната: {reason}",
        "access.closed": "Достъпът до този компютър е затворен.",
        "refused.code": "Кодът не беше приет: {reason}",
        "refused.throttled": "Твърде много опити с грешен код. Изчакайте минута и опитайте отново.",
        "refused.other": "Услугата отказа връзката: {reason}",
        "reason.expired": "изтече времето за изчакване",
        "reason.agent_lost": "връзката с този компютър беше загубена",
        "reason.consent_revoked": "съгласието беше оттеглено",
        "reason.consent_expired": "съгласието изтече",
    },
    "en": {
        "state.connecting": "connecting",
        "state.waiting": "waiting for the consultant",
        "state.connected": "connected",
        "state.left": "the consultant left",
        "state.reconnecting": "connection lost, reconnecting",
        "status.consultant": "consultant: {who}",
        "status.nobody": "no consultant yet",
        "status.allowed": "may {scopes}",
        "status.none": "do nothing",
        "status.hotkey": "to end press Q",
        "hint.take_back_control": "Press C to take back control: the consultant can then only watch.",
        "control.taken_back": "Control taken back: the consultant can only watch now.",
        "scope.view": "view",
        "scope.control": "control",
        "scope.files": "files",
        "scope.long.view": "view (screen and terminal)",
        "scope.long.control": "control (keyboard and mouse)",
        "status.request": "asks to {scopes}: Y/N",
        "request.asks": "Consultant {who} asks for permission: {scopes}.",
        "request.reason": "Reason: {reason}",
        "request.keys": "Press Y to allow, N to refuse.",
        "request.approving": "Allowing {scopes}; waiting for confirmation…",
        "request.refusing": "Refusing {scopes}…",
        "request.unsent": "Your answer could not be sent: press Y or N again.",
        "request.approved": "You allowed {who}: {scopes}.",
        "request.refused": "You refused {who}: {scopes}. Nothing has changed.",
        "status.watched": "watched by: {who}",
        "status.watched.many": "watched by: {who}",
        "observer.joined": ("Supervisor {who} is now watching your screen and terminal "
                            "(view only: they cannot type or control)."),
        "observer.left": "Supervisor {who} stopped watching.",
        "chat.line": "[chat] {who}: {text}",
        "chat.you": "you",
        "chat.hint": "Press T to reply.",
        "chat.prompt": "Message (Enter to send, Esc to cancel): ",
        "chat.unsent": "Your message could not be sent: press T to try again.",
        "status.chat": "T: message",
        "log.where": "Log: {path}",
        "mirror.title": "Everything the consultant types and sees in the terminal is shown here.",
        "ended.by.customer": "You ended the session.",
        "ended.by.consultant": "The consultant ended the session.",
        "ended.by.supervisor": "A supervisor ended the session.",
        "ended.by.system": "The system ended the session ({reason}).",
        "ended.by.unknown": "The session ended ({reason}).",
        "ended.lost": "The connection was lost for more than {seconds} s: the session is over.",
        "ended.unreachable": "The service cannot be reached: {reason}",
        "access.closed": "Access to this computer is closed.",
        "refused.code": "The code was not accepted: {reason}",
        "refused.throttled": "Too many attempts with a wrong code. Wait a minute and try again.",
        "refused.other": "The service refused the connection: {reason}",
        "reason.expired": "nobody started it in time",
        "reason.agent_lost": "the connection to this computer was lost",
        "reason.consent_revoked": "the consent was revoked",
        "reason.consent_expired": "the consent expired",
    },
}


def pick_language(requested: str | None = None, environ: dict[str, str] | None = None) -> str:
    """`--lang` if given, else the first locale variable set (POSIX order of precedence), else Bulgarian."""
    if requested:
        return requested if requested in LANGUAGES else DEFAULT_LANGUAGE
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


class Messages:
    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self._texts = CATALOGUE[self.language]

    def __call__(self, key: str, **values) -> str:
        return self._texts[key].format(**values)

    def get(self, key: str, default: str) -> str:
        return self._texts.get(key, default)

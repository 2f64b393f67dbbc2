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
        "allowed.now": "Разрешили сте на консултанта: {scopes}.",
        "status.none": "без права",
        "status.hotkey": "за край натиснете Q",
        "hint.take_back_control": "Натиснете C, за да спрете управлението: консултантът ще продължи само да гледа.",
        "control.taken_back": "Управлението е спряно: консултантът вече само гледа.",
        "scope.view": "вижда",
        "scope.control": "управлява",
        "scope.files": "файлове",
        "scope.clipboard": "клипборд",
        "scope.long.files": "файлове (изпращане и вземане, всеки файл с ваше одобрение)",
        "scope.long.clipboard": "клипборд (текст, всеки път показан тук)",
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
        # Recording (#19): said once in the window and kept on the status line while the gateway records.
        "status.recorded": "записва се",
        "recording.notice": ("Тази сесия се записва: терминалът, екранът ви, какъвто го вижда консултантът, чатът и "
                             "имената на прехвърлените файлове (не съдържанието им и не клипбордът ви). Можете да "
                             "гледате, изтеглите или изтриете записа от страницата на сесията в браузъра."),
        "status.clipboard": "клипборд? S/D",
        "clipboard.put": "[клипборд] {who} постави {count} знака в клипборда ви: {first}",
        "clipboard.put_unset": ("[клипборд] {who} ви изпрати {count} знака, но те не можаха да бъдат поставени в "
                                "клипборда ви. Ето ги, за да ги копирате сами:"),
        "clipboard.more_lines": "  … и още {count} реда",
        "clipboard.put_too_long": ("[клипборд] {who} опита да постави {count} знака, повече от {max}: нищо не е "
                                   "поставено."),
        "clipboard.put_not_text": "[клипборд] {who} не изпрати текст: нищо не е поставено в клипборда ви.",
        "clipboard.asks": "[клипборд] {who} иска текста от клипборда ви.",
        "clipboard.keys": "Натиснете S, за да го изпратите, или D, за да откажете.",
        "clipboard.sent": "[клипборд] Изпратихте на {who} {count} знака от клипборда си: {first}",
        "clipboard.declined": "[клипборд] Отказахте: нищо не е изпратено.",
        "clipboard.no_text": "[клипборд] В клипборда ви няма текст: нищо не е изпратено.",
        "clipboard.too_long": "[клипборд] Клипбордът ви съдържа {count} знака, повече от {max}: нищо не е изпратено.",
        "clipboard.none_here": ("[клипборд] {who} поиска клипборда ви, но на този компютър няма клипборд, "
                                "който агентът може да чете: нищо не е изпратено."),
        "clipboard.unreadable": "[клипборд] Клипбордът не можа да бъде прочетен: нищо не е изпратено.",
        "clipboard.unsent": "[клипборд] Нищо не е изпратено: клипбордът вече не е разрешен.",
        "clipboard.expired": "[клипборд] Искането за клипборда ви изтече: нищо не е изпратено.",
        "clipboard.withdrawn": "[клипборд] Искането за клипборда ви е отменено: клипбордът вече не е разрешен.",
        "clipboard.left": "[клипборд] Искането за клипборда ви е отменено: консултантът излезе.",
        "status.monitor": "вижда екран {index}/{count}",
        "monitor.shared": "Консултантът вече вижда екран {index} от {count} ({width}×{height}).",
        # Files (#17, filetransfer/transfers.py): A, F and R answer for a file; the names shown are made safe.
        "files.offer": "[файл] {who} ви изпраща {name} ({size}).",
        "files.offer.keys": "A: запазване в {folder}, F: друга папка, R: отказ.",
        "files.status.offer": "файл? A/F/R",
        "files.status.request": "файл? A/R",
        "files.folder_prompt": "Папка за файла (Enter запазва, Esc връща към въпроса): ",
        "files.folder_bad": "[файл] {folder} не е папка: напишете друга (F) или натиснете A или R.",
        "files.saving": "[файл] {name} се получава в {folder}…",
        "files.progress": "[файл] {name}: {percent}% ({done} от {size})",
        "files.saved": "[файл] Запазен: {path} ({size}, SHA-256 {sha}…).",
        "files.refused": "[файл] Отказахте {name}: нищо не е записано.",
        "files.cancelled": "[файл] Консултантът спря {name}: нищо не е останало.",
        "files.stopped": "[файл] {name} спря ({reason}): нищо непълно не е останало.",
        "files.stop.scope": "правото за файлове беше оттеглено",
        "files.stop.ended": "сесията приключи",
        "files.failed": "[файл] {name} не можа да бъде запазен: {reason}. Нищо не е останало.",
        "files.too_large": "[файл] {who} искаше да изпрати {name} ({size}), повече от разрешените {limit}: отказано.",
        "files.bad_name": "[файл] Файл с неизползваемо име ({name}) беше отказан.",
        "files.request": "[файл] {who} иска вашия файл {path} ({size}).",
        "files.request.keys": "A: изпращане, R: отказ.",
        "files.request.missing": "[файл] {who} поиска {path}: {why}. Нищо не е изпратено.",
        "files.why.not_found": "няма такъв файл",
        "files.why.not_a_file": "не е обикновен файл",
        "files.why.not_readable": "не може да бъде прочетен",
        "files.why.too_large": "по-голям е от разрешеното",
        "files.why.bad_path": "неизползваем път",
        "files.request_refused": "[файл] Отказахте да изпратите {path}.",
        "files.hashing": "[файл] {name} се подготвя…",
        "files.sending": "[файл] {name}: изпратени {percent}%",
        "files.sent": "[файл] {name} е изпратен ({size}).",
        "files.send_failed": "[файл] {name} не беше получен: {reason}.",
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
        "allowed.now": "You allow the consultant: {scopes}.",
        "status.none": "do nothing",
        "status.hotkey": "to end press Q",
        "hint.take_back_control": "Press C to take back control: the consultant can then only watch.",
        "control.taken_back": "Control taken back: the consultant can only watch now.",
        "scope.view": "view",
        "scope.control": "control",
        "scope.files": "files",
        "scope.clipboard": "clipboard",
        "scope.long.files": "files (sent and taken, each file with your approval)",
        "scope.long.clipboard": "clipboard (text, each time shown here)",
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
        # Recording (#19): said once in the window and kept on the status line while the gateway records.
        "status.recorded": "recorded",
        "recording.notice": ("This session is recorded: the terminal, your screen as the consultant sees it, the "
                             "chat and the names of transferred files (not their contents, not your clipboard). You "
                             "can replay, download or erase the recording from your session page in the browser."),
        "status.clipboard": "clipboard? S/D",
        "clipboard.put": "[clipboard] {who} put {count} characters into your clipboard: {first}",
        "clipboard.put_unset": ("[clipboard] {who} sent you {count} characters, but they could not be put into "
                                "your clipboard. Here they are, to copy by hand:"),
        "clipboard.more_lines": "  … and {count} more lines",
        "clipboard.put_too_long": ("[clipboard] {who} tried to put {count} characters into your clipboard, more "
                                   "than {max}: nothing was put."),
        "clipboard.put_not_text": "[clipboard] {who} sent no text: nothing was put into your clipboard.",
        "clipboard.asks": "[clipboard] {who} asks for the text in your clipboard.",
        "clipboard.keys": "Press S to send it, D to refuse.",
        "clipboard.sent": "[clipboard] You sent {who} {count} characters from your clipboard: {first}",
        "clipboard.declined": "[clipboard] You refused: nothing was sent.",
        "clipboard.no_text": "[clipboard] Your clipboard holds no text: nothing was sent.",
        "clipboard.too_long": "[clipboard] Your clipboard holds {count} characters, more than {max}: nothing was sent.",
        "clipboard.none_here": ("[clipboard] {who} asked for your clipboard, but this computer has no clipboard the "
                                "agent can read: nothing was sent."),
        "clipboard.unreadable": "[clipboard] The clipboard could not be read: nothing was sent.",
        "clipboard.unsent": "[clipboard] Nothing was sent: the clipboard is no longer allowed.",
        "clipboard.expired": "[clipboard] The request for your clipboard expired: nothing was sent.",
        "clipboard.withdrawn": ("[clipboard] The request for your clipboard is cancelled: the clipboard is no "
                                "longer allowed."),
        "clipboard.left": "[clipboard] The request for your clipboard is cancelled: the consultant left.",
        "status.monitor": "view screen {index}/{count}",
        "monitor.shared": "The consultant now sees screen {index} of {count} ({width}×{height}).",
        # Files (#17, filetransfer/transfers.py): A, F and R answer for a file; the names shown are made safe.
        "files.offer": "[file] {who} sends you {name} ({size}).",
        "files.offer.keys": "A: save to {folder}, F: choose a folder, R: refuse.",
        "files.status.offer": "file? A/F/R",
        "files.status.request": "file? A/R",
        "files.folder_prompt": "Folder for the file (Enter saves, Esc goes back): ",
        "files.folder_bad": "[file] {folder} is not a folder: type another (F), or press A or R.",
        "files.saving": "[file] Receiving {name} into {folder}…",
        "files.progress": "[file] {name}: {percent}% ({done} of {size})",
        "files.saved": "[file] Saved {path} ({size}, SHA-256 {sha}…).",
        "files.refused": "[file] You refused {name}: nothing was written.",
        "files.cancelled": "[file] The consultant stopped {name}: nothing was kept.",
        "files.stopped": "[file] {name} stopped ({reason}): nothing partial was kept.",
        "files.stop.scope": "access to files was taken back",
        "files.stop.ended": "the session ended",
        "files.failed": "[file] {name} could not be saved: {reason}. Nothing was kept.",
        "files.too_large": "[file] {who} wanted to send {name} ({size}), more than the {limit} allowed: refused.",
        "files.bad_name": "[file] A file with an unusable name ({name}) was refused.",
        "files.request": "[file] {who} asks for your file {path} ({size}).",
        "files.request.keys": "A: send it, R: refuse.",
        "files.request.missing": "[file] {who} asked for {path}: {why}. Nothing was sent.",
        "files.why.not_found": "there is no such file",
        "files.why.not_a_file": "it is not a regular file",
        "files.why.not_readable": "it cannot be read",
        "files.why.too_large": "it is larger than allowed",
        "files.why.bad_path": "an unusable path",
        "files.request_refused": "[file] You refused to send {path}.",
        "files.hashing": "[file] Preparing {name}…",
        "files.sending": "[file] {name}: {percent}% sent",
        "files.sent": "[file] {name} was sent ({size}).",
        "files.send_failed": "[file] {name} was not received: {reason}.",
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
